"""The ``events:`` section: how events are consumed (batching, retries, JetStream)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

GIB = 1 << 30
# A stream must hold at least one event of the largest size NATS carries (1 MiB by default).
MIN_STREAM_BYTES = 1 << 20
MAX_STREAM_BYTES = 1 << 50  # 1 PiB: past any disk, so a typo of a few digits is caught
MAX_AGE_HOURS = 87_600.0  # ten years


class JetStreamSettings(BaseModel):
    """The streams kefu keeps on JetStream (docs/events.md, "Stream limits").

    Both streams refuse new messages when full (``DiscardPolicy.NEW``) rather than drop
    old ones: an event the outbox relay cannot publish stays in kefu's outbox and is
    retried, while one the server drops is gone. Events every consumer has acknowledged
    are history, purged to make room before a publish is refused. Age is the one limit
    that deletes unread messages, so it is long.
    """

    model_config = ConfigDict(extra="forbid")

    stream: str = Field(default="KEFU_EVENTS", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    dead_letter_stream: str = Field(default="KEFU_DEADLETTER", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # Redeliveries of an event whose effect failed, waiting these delays in turn.
    backoff_seconds: list[float] = Field(default_factory=lambda: [1.0, 5.0, 30.0, 120.0])
    # Unacknowledged this long (a consumer died mid-batch): delivered again. Short, so a
    # crashed node's events reach another within seconds; a live consumer's slow batches
    # are kept by in-progress acks (kefu.bus.in_progress), never redelivered under it.
    ack_wait_seconds: float = Field(default=5.0, gt=0, le=3600)
    # Publishes with the same event id inside this window are stored once.
    duplicate_window_seconds: float = Field(default=120.0, gt=0, le=86_400)
    replicas: int = Field(default=1, ge=1, le=5)
    # A week: a consumer stalled over a long weekend loses nothing, and it matches how
    # long processed event ids are remembered (dedupe_retention_hours).
    stream_max_age_hours: float = Field(default=168.0, gt=0, le=MAX_AGE_HOURS)
    # 10 GiB of unconsumed events and recent history: a small volume's worth, hours of a
    # flood at thousands of events per second. Consumed history is purged first when full.
    stream_max_bytes: int = Field(default=10 * GIB, ge=MIN_STREAM_BYTES, le=MAX_STREAM_BYTES)
    # A month: dead letters wait for a person, who may be on holiday.
    deadletter_max_age_hours: float = Field(default=720.0, gt=0, le=MAX_AGE_HOURS)
    # Dead letters are rare; 1 GiB of them is an incident to look at, not a log to keep.
    deadletter_max_bytes: int = Field(default=GIB, ge=MIN_STREAM_BYTES, le=MAX_STREAM_BYTES)

    @model_validator(mode="after")
    def _window_within_age(self) -> Self:
        # JetStream refuses a duplicate window longer than the stream keeps messages.
        for key in ("stream_max_age_hours", "deadletter_max_age_hours"):
            if getattr(self, key) * 3600 < self.duplicate_window_seconds:
                raise ValueError(
                    f"{key} must be at least duplicate_window_seconds "
                    f"({self.duplicate_window_seconds:g} s)"
                )
        return self


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
