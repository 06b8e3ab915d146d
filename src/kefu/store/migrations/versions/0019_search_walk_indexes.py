"""conversations: (status, last_message_id) and (assignee_id, last_message_id) indexes

Revision ID: 0019
Revises: 0018

A search narrowed by status or assignee walks those conversations newest last message
first (kefu.store.search_walk): without these the store read every closed conversation,
or one agent's among everyone's, to find a page.
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_conversations_status_last_message_id", "conversations", ["status", "last_message_id"]
    )
    op.create_index(
        "ix_conversations_assignee_id_last_message_id",
        "conversations",
        ["assignee_id", "last_message_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_assignee_id_last_message_id", table_name="conversations")
    op.drop_index("ix_conversations_status_last_message_id", table_name="conversations")
