"""conversation search: message and visitor search indexes, conversations by activity

Revision ID: 0016
Revises: 0015

The index tables are the store's own kind (kefu.store.search_schema): FTS5 virtual
tables on SQLite, tsvector tables with GIN indexes on PostgreSQL. Existing messages and
visitors are indexed here, in chunks.
"""

from __future__ import annotations

from alembic import op

from kefu.store import search_schema

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    search_schema.create(bind)
    search_schema.backfill(bind)
    op.create_index("ix_conversations_updated_at_id", "conversations", ["updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_conversations_updated_at_id", table_name="conversations")
    search_schema.drop(op.get_bind())
