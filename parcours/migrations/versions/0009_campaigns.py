"""campaigns: campaigns, convocation versions and their e-mails, acknowledgement links; interview statuses

Interviews recorded as « planned » before this migration become « convoked » (their convocation was
made outside a campaign); the calendar counts them as before.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 17:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('reference_date', sa.Date(), nullable=False),
    sa.Column('population', sa.JSON(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('batch_ids', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('interviews') as batch:
        batch.add_column(sa.Column('campaign_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('heure', sa.Time(), nullable=True))
        batch.add_column(sa.Column('lieu', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('lien_visio', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('interviewer_matricule', sa.String(length=50), nullable=True))
        batch.add_column(sa.Column('interviewer_name', sa.String(length=300), nullable=True))
        batch.add_column(sa.Column('interviewer_email', sa.String(length=320), nullable=True))
        batch.add_column(sa.Column('reason', sa.Text(), nullable=True))
        batch.create_foreign_key('fk_interviews_campaign', 'campaigns', ['campaign_id'], ['id'])
        batch.create_index('ix_interviews_campaign_id', ['campaign_id'])
    op.execute("UPDATE interviews SET status = 'convoked' WHERE status = 'planned'")
    op.create_table('convocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('interview_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('heure', sa.Time(), nullable=False),
    sa.Column('lieu', sa.String(length=500), nullable=True),
    sa.Column('lien_visio', sa.String(length=500), nullable=True),
    sa.Column('batch_item_id', sa.Integer(), nullable=True),
    sa.Column('trame_item_id', sa.Integer(), nullable=True),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('trame_document_id', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_ip', sa.String(length=100), nullable=True),
    sa.Column('acknowledged_user_agent', sa.String(length=500), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['interview_id'], ['interviews.id']),
    sa.ForeignKeyConstraint(['batch_item_id'], ['batch_items.id']),
    sa.ForeignKeyConstraint(['trame_item_id'], ['batch_items.id']),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id']),
    sa.ForeignKeyConstraint(['trame_document_id'], ['documents.id']),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_convocations_interview', 'convocations', ['interview_id', 'version'], unique=True)
    op.create_index('ix_convocations_status', 'convocations', ['status'])
    op.create_table('convocation_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('convocation_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('to', sa.String(length=320), nullable=False),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['convocation_id'], ['convocations.id']),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_convocation_messages_convocation', 'convocation_messages', ['convocation_id', 'role'],
                    unique=True)
    op.create_table('acknowledgement_links',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('convocation_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['convocation_id'], ['convocations.id']),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_index('ix_acknowledgement_links_convocation_id', 'acknowledgement_links', ['convocation_id'])


def downgrade() -> None:
    op.drop_table('acknowledgement_links')
    op.drop_table('convocation_messages')
    op.drop_table('convocations')
    op.execute("UPDATE interviews SET status = 'planned' WHERE status IN ('convoked', 'acknowledged', 'rescheduled')")
    op.execute("UPDATE interviews SET status = 'cancelled' WHERE status = 'to_plan'")
    with op.batch_alter_table('interviews') as batch:
        batch.drop_index('ix_interviews_campaign_id')
        batch.drop_constraint('fk_interviews_campaign', type_='foreignkey')
        for column in ('reason', 'interviewer_email', 'interviewer_name', 'interviewer_matricule', 'lien_visio', 'lieu', 'heure', 'campaign_id'):
            batch.drop_column(column)
    op.drop_table('campaigns')
