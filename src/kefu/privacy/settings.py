"""``privacy:`` settings."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PrivacySettings(BaseModel):
    # Closed conversations (with their messages, ratings and files), offline messages and
    # visitors are deleted this many days after they ended; None keeps them forever.
    retention_days: int | None = Field(default=None, ge=1, le=36_500)
    # How often retention runs (it deletes in chunks; the first run may have a backlog).
    retention_check_seconds: float = Field(default=3600.0, gt=0)
