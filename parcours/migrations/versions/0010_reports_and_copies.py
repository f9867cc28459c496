"""reports and copies: the compte rendu's content by versions, the employee's download links to his copy

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-06 17:10:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_contents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('interview_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('sections', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id']),
    sa.ForeignKeyConstraint(['interview_id'], ['interviews.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('interview_id', 'number')
    )
    op.create_index('ix_report_contents_interview_id', 'report_contents', ['interview_id'])
    op.create_table('copy_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('downloads', sa.Integer(), nullable=False),
    sa.Column('last_downloaded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_copy_links_document_id', 'copy_links', ['document_id'])


def downgrade() -> None:
    op.drop_index('ix_copy_links_document_id', table_name='copy_links')
    op.drop_table('copy_links')
    op.drop_index('ix_report_contents_interview_id', table_name='report_contents')
    op.drop_table('report_contents')
