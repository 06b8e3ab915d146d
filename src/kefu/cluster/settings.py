"""The ``cluster:`` section: how nodes sharing a NATS server find each other's frames."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClusterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Core NATS subject the nodes of one deployment share. Two deployments on one NATS
    # server need different subjects (or NATS accounts), or they see each other's frames.
    subject: str = Field(default="kefu.live", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
    # Give up on the first connection after this long; the node keeps serving its own
    # sockets and keeps trying in the background.
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
