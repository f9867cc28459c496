"""employees: exit date, contract type and end, mid-career visit

Four columns the legal calendar reads (docgen.dataset.Employee): `date_sortie`, `type_contrat` (cdi by
default, so existing rows keep their meaning), `date_fin_contrat`, `date_visite_mi_carriere`. Nullable
or defaulted: a plain ALTER TABLE on SQLite and PostgreSQL.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 14:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('employees', schema=None) as batch_op:
        batch_op.add_column(sa.Column('date_sortie', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('type_contrat', sa.String(length=30), nullable=False, server_default='cdi'))
        batch_op.add_column(sa.Column('date_fin_contrat', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('date_visite_mi_carriere', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('employees', schema=None) as batch_op:
        batch_op.drop_column('date_visite_mi_carriere')
        batch_op.drop_column('date_fin_contrat')
        batch_op.drop_column('type_contrat')
        batch_op.drop_column('date_sortie')
