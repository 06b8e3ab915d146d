"""conversation labels

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_labels",
        sa.Column("conversation_id", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_labels_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("conversation_id", "label", name=op.f("pk_conversation_labels")),
    )
    op.create_index(
        op.f("ix_conversation_labels_label_conversation_id"),
        "conversation_labels",
        ["label", "conversation_id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_conversation_labels_label_conversation_id"), table_name="conversation_labels"
    )
    op.drop_table("conversation_labels")
