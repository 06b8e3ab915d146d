"""indexes for supervisor reports: conversations, agents' messages and tickets by time

Revision ID: 0012
Revises: 0011

Each report query reads one period of one timestamp; without these it would scan the
whole table. The index on messages is partial (agents' messages only): the chat's hot
path writes visitors', bots' and system messages with no extra index to maintain.

IF NOT EXISTS: on a large PostgreSQL database an operator may build them beforehand with
CREATE INDEX CONCURRENTLY (no write lock; docs/operations.md), and this then skips them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

AGENT_MESSAGES = "sender_kind = 'agent'"
_PLAIN = (
    ("conversations", "created_at"),
    ("conversations", "closed_at"),
    ("tickets", "created_at"),
    ("tickets", "solved_at"),
    ("tickets", "first_response_due_at"),
    ("tickets", "resolution_due_at"),
)


def upgrade() -> None:
    for table, column in _PLAIN:
        op.create_index(f"ix_{table}_{column}", table, [column], if_not_exists=True)
    op.create_index(
        "ix_messages_agent_created_at",
        "messages",
        ["created_at", "sender_id"],
        postgresql_where=sa.text(AGENT_MESSAGES),
        sqlite_where=sa.text(AGENT_MESSAGES),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_agent_created_at", table_name="messages")
    for table, column in reversed(_PLAIN):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
