"""The two streams kefu owns (events, dead letters): made, kept in line with the
settings, and purged of acknowledged history when full.

**Full means "wait", not "forget".** Both streams have an age and a byte limit
(``events.jetstream.*_max_age_hours``, ``*_max_bytes``) and refuse new messages when full
(``DiscardPolicy.NEW``): the outbox relay keeps a refused event and retries, while ``OLD``
would silently drop the oldest event, read or not. A stream that keeps every event (limits
retention) fills with history in steady state, so a refusal first purges what every
consumer has acknowledged; only unread events make a publish wait. Limits that differ from
the settings are updated in place at start, never by recreating the stream, and a byte
limit below what the stream holds unread is refused (the server would delete the oldest
events to fit).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from kefu.bus.jetstream.protocol import DEAD_LETTER_SUBJECTS, EVENTS_SUBJECTS
from kefu.errors import ConfigError
from kefu.events.settings import JetStreamSettings

log = logging.getLogger(__name__)

# A full stream is checked for acknowledged history at most this often: every relay
# retry (about once a second) asking for every consumer's state would only add load.
MAKE_ROOM_INTERVAL_SECONDS = 5.0
# Before nats-io/nats-server#4772 (merged November 2023, in 2.10.5), a stream under
# DiscardPolicy.NEW checked a publish against max_bytes without the per-message overhead,
# so the publish that crossed the limit was stored and the oldest message deleted.
DISCARD_NEW_EXACT_SINCE = (2, 10, 5)
# The err_code of JetStream's "stream name already in use" (another node made it first).
STREAM_NAME_IN_USE = 10058
# Consumers read per stream when looking for the acknowledgement floor: a bound on a
# loop over pages, far above any real deployment's count.
MAX_CONSUMERS_READ = 10_000


class Streams:
    """Provisioning of both streams from ``events.jetstream``; one per event log (it
    remembers when a full stream was last purged)."""

    def __init__(self, settings: JetStreamSettings) -> None:
        self._settings = settings
        self._room_checked = -math.inf  # monotonic time of the last full-stream purge

    def configs(self) -> list[StreamConfig]:
        settings = self._settings
        common: dict[str, Any] = {
            "storage": StorageType.FILE,
            "retention": RetentionPolicy.LIMITS,
            # Full: refuse (the outbox keeps the event and retries), never drop the oldest.
            "discard": DiscardPolicy.NEW,
            "duplicate_window": settings.duplicate_window_seconds,
            "num_replicas": settings.replicas,
        }
        return [
            StreamConfig(
                name=settings.stream,
                subjects=[EVENTS_SUBJECTS],
                max_age=settings.stream_max_age_hours * 3600,
                max_bytes=settings.stream_max_bytes,
                **common,
            ),
            StreamConfig(
                name=settings.dead_letter_stream,
                subjects=[DEAD_LETTER_SUBJECTS],
                max_age=settings.deadletter_max_age_hours * 3600,
                max_bytes=settings.deadletter_max_bytes,
                **common,
            ),
        ]

    async def ensure(self, js: JetStreamContext, *, first: bool) -> None:
        for wanted in self.configs():
            await self._ensure_stream(js, wanted, first=first)

    async def ensure_logged(self, js: JetStreamContext) -> None:
        try:
            await self.ensure(js, first=False)
        except Exception as exc:
            log.warning("could not check the JetStream streams after a reconnect: %r", exc)

    async def _ensure_stream(
        self, js: JetStreamContext, wanted: StreamConfig, *, first: bool
    ) -> None:
        """Create the stream, or update the settings kefu owns (subjects, duplicate window,
        replicas, age and byte limits, discard policy) in place and keep the rest (other
        limits an operator set by hand, such as ``max_msgs``, survive a restart)."""
        name, max_bytes = wanted.name, wanted.max_bytes
        if name is None or max_bytes is None:  # configs() sets both; a caller's bug else
            raise ValueError(
                f"a stream to ensure needs a name and a byte limit, got name={name!r} "
                f"max_bytes={max_bytes!r}"
            )
        try:
            info = await js.stream_info(name)
        except nats.js.errors.NotFoundError:
            try:
                await js.add_stream(wanted)
            except nats.js.errors.BadRequestError as exc:
                # Another node created it between our look and our add: update instead.
                if exc.err_code != STREAM_NAME_IN_USE:
                    raise self._stream_error(wanted, exc) from exc
            else:
                level = logging.INFO if first else logging.WARNING
                log.log(level, "created JetStream stream %s over %s", wanted.name, wanted.subjects)
                return
            info = await js.stream_info(name)
        current = info.config
        if current.storage not in (None, StorageType.FILE):
            raise ConfigError(
                self._stream_key(wanted),
                f"JetStream stream {wanted.name} uses {current.storage} storage; kefu needs "
                "file storage (storage cannot change: delete the stream or rename it in "
                "events.jetstream)",
            )
        if (
            sorted(current.subjects or []) == sorted(wanted.subjects or [])
            and math.isclose(current.duplicate_window or 0.0, wanted.duplicate_window or 0.0)
            and (current.num_replicas or 1) == wanted.num_replicas
            and math.isclose(current.max_age or 0.0, wanted.max_age or 0.0)
            and current.max_bytes == wanted.max_bytes
            and current.discard == wanted.discard
        ):
            return
        if info.state.bytes > max_bytes:
            # The server would delete the oldest messages to fit, read or not: keep only
            # the unread ones, and refuse a limit below them.
            await purge_acknowledged(js, name)
            held = (await js.stream_info(name)).state.bytes
            if held > max_bytes:
                raise ConfigError(
                    self._limit_key(wanted, "max_bytes"),
                    f"JetStream stream {wanted.name} holds {held} bytes of events not yet "
                    f"acknowledged by every consumer; a limit of {wanted.max_bytes} would "
                    "delete some. Raise it, or let the consumers catch up first",
                )
        updated = dataclasses.replace(
            current,
            subjects=wanted.subjects,
            duplicate_window=wanted.duplicate_window,
            num_replicas=wanted.num_replicas,
            max_age=wanted.max_age,
            max_bytes=wanted.max_bytes,
            discard=wanted.discard,
        )
        try:
            await js.update_stream(updated)
        except nats.js.errors.APIError as exc:
            raise self._stream_error(wanted, exc) from exc
        log.info(
            "updated JetStream stream %s (max age %gh, max bytes %d, discard %s)",
            wanted.name,
            (wanted.max_age or 0.0) / 3600,
            wanted.max_bytes,
            wanted.discard,
        )

    async def make_room(self, js: JetStreamContext) -> None:
        """A publish found the events stream full: purge its acknowledged history, at most
        once per ``MAKE_ROOM_INTERVAL_SECONDS``, and say so when nothing could go."""
        now = time.monotonic()
        if now - self._room_checked < MAKE_ROOM_INTERVAL_SECONDS:
            return
        self._room_checked = now
        stream = self._settings.stream
        try:
            purged = await purge_acknowledged(js, stream)
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("JetStream stream %s is full and could not be purged: %r", stream, exc)
            return
        if purged == 0:
            log.error(
                "JetStream stream %s is full of events no consumer has acknowledged "
                "(events.jetstream.stream_max_bytes=%d); new events wait in the outbox "
                "until the consumers catch up or the limit is raised",
                stream,
                self._settings.stream_max_bytes,
            )

    def _limit_key(self, wanted: StreamConfig, limit: str) -> str:
        if wanted.name == self._settings.stream:
            return f"events.jetstream.stream_{limit}"
        return f"events.jetstream.deadletter_{limit}"

    def _stream_key(self, wanted: StreamConfig) -> str:
        if wanted.name == self._settings.stream:
            return "events.jetstream.stream"
        return "events.jetstream.dead_letter_stream"

    def _stream_error(self, wanted: StreamConfig, exc: nats.js.errors.APIError) -> ConfigError:
        return ConfigError(
            self._stream_key(wanted),
            f"cannot create or update JetStream stream {wanted.name} over {wanted.subjects}: "
            f"{exc.description} (another stream may already own these subjects)",
        )


async def purge_acknowledged(js: JetStreamContext, stream: str) -> int:
    """Remove the messages every consumer of ``stream`` has acknowledged; return how
    many went.

    With limits retention, acknowledged events stay as history until a limit removes
    them. The lowest acknowledgement floor among the consumers (kefu's and anyone
    else's) is where unread events may begin, so everything before it can go. No
    consumer means nobody has read anything: nothing goes.
    """
    consumers: list[Any] = []
    while True:
        page = await js.consumers_info(stream, offset=len(consumers))
        consumers.extend(page)
        if len(page) == 0 or len(consumers) >= MAX_CONSUMERS_READ:
            break
    if not consumers:
        return 0
    floor = min(int(c.ack_floor.stream_seq) if c.ack_floor else 0 for c in consumers)
    before = (await js.stream_info(stream)).state
    if floor < before.first_seq:
        return 0
    # ``seq`` keeps that sequence and everything after it.
    await js.purge_stream(stream, seq=floor + 1)
    after = (await js.stream_info(stream)).state
    purged = before.messages - after.messages
    log.info(
        "JetStream stream %s: purged %d acknowledged events (%d bytes) to make room",
        stream,
        purged,
        before.bytes - after.bytes,
    )
    return purged


def warn_if_discard_new_is_inexact(nc: NATS) -> None:
    version = nc.connected_server_version
    try:
        found = (version.major, version.minor, version.patch)
    except (TypeError, ValueError):
        return  # not semver: a build of its own, nothing to say
    if found < DISCARD_NEW_EXACT_SINCE:
        log.warning(
            "nats-server %s may delete the oldest event when a stream reaches its byte limit "
            "(nats-io/nats-server#4772, fixed in %s); upgrade, or keep "
            "events.jetstream.stream_max_bytes well above the backlog you expect",
            ".".join(map(str, found)),
            ".".join(map(str, DISCARD_NEW_EXACT_SINCE)),
        )
