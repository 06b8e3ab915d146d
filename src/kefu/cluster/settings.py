"""The ``cluster:`` section: how nodes sharing a NATS server find each other's frames."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ClusterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Core NATS subject the nodes of one deployment share. Two deployments on one NATS
    # server need different subjects (or NATS accounts), or they see each other's frames.
    subject: str = Field(default="kefu.live", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
    # Give up on the first connection after this long; the node keeps serving its own
    # sockets and keeps trying in the background.
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    # How often a node renews its agents' presence (and retries waiting conversations);
    # an agent whose node stopped renewing counts as offline after presence_ttl_seconds.
    heartbeat_seconds: float = Field(default=5.0, gt=0, le=300)
    presence_ttl_seconds: float = Field(default=20.0, gt=0, le=3600)
    # Publish a frame for "every supervisor" / "every agent" only while another node
    # announces sockets of that audience (docs/scaling.md). Off: publish every such frame,
    # as versions without announcements do; the first step of a rolling upgrade from one.
    audience_routing: bool = True

    @model_validator(mode="after")
    def _ttl_outlives_heartbeats(self) -> ClusterSettings:
        if self.presence_ttl_seconds < 2 * self.heartbeat_seconds:
            raise ValueError(
                "cluster.presence_ttl_seconds must be at least twice cluster.heartbeat_seconds "
                "(one late heartbeat must not take a node's agents offline)"
            )
        return self
