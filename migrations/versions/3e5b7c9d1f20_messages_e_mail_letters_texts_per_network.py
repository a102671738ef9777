"""messages: an e-mail letter of their own (subject and body), a variant's own text per network

Revision ID: 3e5b7c9d1f20
Revises: 8c1f2a7d9e10
Create Date: 2026-12-02 10:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3e5b7c9d1f20'
down_revision = '8c1f2a7d9e10'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_subject', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('email_body', sa.Text(), server_default='', nullable=False))

    with op.batch_alter_table('variant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('texts', sa.JSON(), server_default='{}', nullable=False))


def downgrade():
    with op.batch_alter_table('variant', schema=None) as batch_op:
        batch_op.drop_column('texts')

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('email_body')
        batch_op.drop_column('email_subject')
