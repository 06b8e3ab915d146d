"""attachments: uploader_ip and claimed_at, for upload quotas and the unsent-upload sweep

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attachments", sa.Column("uploader_ip", sa.String(length=64), nullable=True))
    op.add_column("attachments", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_attachments_uploader_created_at", "attachments", ["uploader", "created_at"])
    op.create_index(
        "ix_attachments_uploader_ip_created_at", "attachments", ["uploader_ip", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_attachments_uploader_ip_created_at", table_name="attachments")
    op.drop_index("ix_attachments_uploader_created_at", table_name="attachments")
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("uploader_ip")
