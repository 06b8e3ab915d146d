"""The ``events:`` section: how events are consumed (batching, retries, JetStream)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class JetStreamSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stream: str = Field(default="KEFU_EVENTS", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    dead_letter_stream: str = Field(default="KEFU_DEADLETTER", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # Redeliveries of an event whose effect failed, waiting these delays in turn.
    backoff_seconds: list[float] = Field(default_factory=lambda: [1.0, 5.0, 30.0, 120.0])
    # Unacknowledged this long (a consumer died mid-batch): delivered again.
    ack_wait_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Publishes with the same event id inside this window are stored once.
    duplicate_window_seconds: float = Field(default=120.0, gt=0, le=86_400)
    replicas: int = Field(default=1, ge=1, le=5)


class EventSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Events per fetch and per effect transaction: the unit of throughput.
    batch: int = Field(default=500, ge=1, le=10_000)
    # Deliveries of one event before it is dead-lettered with the last failure's reason.
    max_attempts: int = Field(default=5, ge=1, le=100)
    jetstream: JetStreamSettings = Field(default_factory=JetStreamSettings)
    # Largest POST /api/v1/events batch.
    max_batch_events: int = Field(default=1000, ge=1, le=100_000)
    # How long a processed event's id is remembered, so a redelivery changes nothing.
    dedupe_retention_hours: float = Field(default=168.0, ge=1.0, le=87_600.0)
