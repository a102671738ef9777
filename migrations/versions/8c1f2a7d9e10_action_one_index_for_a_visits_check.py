"""action: one index for the check every click makes (has this visit written to this target here?)

Revision ID: 8c1f2a7d9e10
Revises: 504dc4d48c03
Create Date: 2026-12-02 10:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '8c1f2a7d9e10'
down_revision = '504dc4d48c03'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.drop_index('ix_action_visitor_id')
        batch_op.create_index('ix_action_visitor', ['visitor_id', 'campaign_id', 'recipient_id', 'network'], unique=False)


def downgrade():
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.drop_index('ix_action_visitor')
        batch_op.create_index('ix_action_visitor_id', ['visitor_id'], unique=False)
