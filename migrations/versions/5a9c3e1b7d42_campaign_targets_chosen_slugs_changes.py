"""campaigns: targets as chosen criteria (several values a filter), their changes logged, old addresses kept, archiving

Revision ID: 5a9c3e1b7d42
Revises: 3e5b7c9d1f20
Create Date: 2026-12-02 16:00:00.000000

A campaign with neither a list nor a filter used to aim at every target of its organisation, so an import
joined it silently. Each such campaign now gets a static list of the targets it had, and keeps them.
"""
import json

from alembic import op

import database
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5a9c3e1b7d42'
down_revision = '3e5b7c9d1f20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'campaign_slug',
        sa.Column('slug', sa.String(length=80), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('created_at', database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('slug'),
    )
    with op.batch_alter_table('campaign_slug', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_slug_campaign_id'), ['campaign_id'], unique=False)
    op.create_table(
        'target_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('added', sa.Integer(), nullable=False),
        sa.Column('removed', sa.Integer(), nullable=False),
        sa.Column('names', sa.JSON(), nullable=False),
        sa.Column('created_at', database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('target_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_target_change_campaign_id'), ['campaign_id'], unique=False)

    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target_criteria', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('archived_at', database.UTCDateTime(timezone=True), nullable=True))

    bind = op.get_bind()
    campaigns = bind.execute(
        sa.text(
            'SELECT id, organisation_id, title, recipient_list_id, filter_role, filter_group, filter_department, '
            'filter_network FROM campaign'
        )
    ).all()
    for cid, org, title, list_id, role, group, department, network in campaigns:
        criteria = {}
        if role:
            criteria['roles'] = [role]
        if group:
            criteria['groups'] = [group]
        if department:
            criteria['departments'] = [department]
        if network:
            criteria['network'] = network
        if list_id is None and not criteria:
            # It aimed at everyone: freeze that into a list of its own, so later imports do not join it.
            name = f"{title[:160]} (#{cid})"
            bind.execute(
                sa.text(
                    'INSERT INTO recipient_list (organisation_id, name, description, is_dynamic, criteria, created_at) '
                    "VALUES (:org, :name, '', :dynamic, '{}', CURRENT_TIMESTAMP)"
                ),
                {'org': org, 'name': name, 'dynamic': False},
            )
            list_id = bind.execute(
                sa.text('SELECT id FROM recipient_list WHERE organisation_id = :org AND name = :name'),
                {'org': org, 'name': name},
            ).scalar_one()
            bind.execute(
                sa.text(
                    'INSERT INTO recipient_list_member (recipient_list_id, recipient_id) '
                    'SELECT :list, recipient_id FROM campaign_target WHERE campaign_id = :cid'
                ),
                {'list': list_id, 'cid': cid},
            )
        bind.execute(
            sa.text('UPDATE campaign SET target_criteria = :criteria, recipient_list_id = :list WHERE id = :cid'),
            {'criteria': json.dumps(criteria), 'list': list_id, 'cid': cid},
        )

    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_column('filter_role')
        batch_op.drop_column('filter_group')
        batch_op.drop_column('filter_department')
        batch_op.drop_column('filter_network')


def downgrade():
    role = sa.Enum('deputy', 'senator', 'minister', 'mep', 'representative', 'other', name='targetrole',
                   native_enum=False, length=32)
    network = sa.Enum('x', 'bluesky', 'mastodon', 'email', name='network', native_enum=False, length=32)
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('filter_network', network, nullable=True))
        batch_op.add_column(sa.Column('filter_department', sa.String(length=8), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('filter_group', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('filter_role', role, nullable=True))
        batch_op.drop_column('archived_at')
        batch_op.drop_column('target_criteria')
    with op.batch_alter_table('target_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_target_change_campaign_id'))
    op.drop_table('target_change')
    with op.batch_alter_table('campaign_slug', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_slug_campaign_id'))
    op.drop_table('campaign_slug')
