"""who made each document version

A nullable `created_by` on document_versions: the token's label, the signer's e-mail, or "system".
Versions made before this migration keep null; their audit event says who (the document's history
falls back to it). Adding a nullable column is a plain ALTER TABLE on SQLite too (no table rebuild).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 09:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by', sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.drop_column('created_by')
