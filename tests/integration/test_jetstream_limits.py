"""The JetStream streams' age and byte limits against a real nats-server.

A fresh stream gets the configured limits; an existing stream with other limits is
updated in place at start and keeps its messages; a byte limit that would delete unread
events is refused; a full stream refuses new events (``DiscardPolicy.NEW``), the outbox
keeps them, and they are published once the consumer has acknowledged enough history to
be purged. Each test runs its own nats-server (see test_jetstream.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import nats
import nats.js.errors
import pytest
import sqlalchemy as sa
from nats.aio.client import Client as NATS
from nats.js.api import DiscardPolicy, StorageType, StreamConfig

from kefu.bus.jetstream import JetStreamEventLog
from kefu.config import load_settings
from kefu.domain.envelope import Event
from kefu.errors import ConfigError, Unavailable
from kefu.events.log import DONE, Received, Result
from kefu.events.relay import OutboxRelay
from kefu.store.database import Database
from kefu.store.outbox import OutboxRepository, emit
from kefu.store.tables import outbox
from tests.support.jetstream import consuming, make_settings, until_async
from tests.support.nats import NatsServer

MIB = 1 << 20
BLOB = "x" * 50_000  # ~50 KB events: a 1 MiB stream is full after about twenty


@pytest.fixture
def server(nats: NatsServer) -> NatsServer:
    """A nats-server of the test's own (conftest's ``nats``), by this module's name."""
    return nats


@pytest.fixture
async def admin(server: NatsServer) -> AsyncIterator[NATS]:
    nc = await nats.connect(server.url)
    try:
        yield nc
    finally:
        await nc.close()


def big(prefix: str, count: int, size: int = len(BLOB)) -> list[Event]:
    blob = "x" * size
    return [Event(id=f"{prefix}{n}", type="test.big", data={"blob": blob}) for n in range(count)]


async def fill(log: JetStreamEventLog) -> int:
    """Append events until the stream refuses even a small one; return how many fit.

    Big ones first, then ever smaller ones into what is left, so the stream is full for
    any event at least as big as the smallest filler."""
    fitted = 0
    for size in (50_000, 5_000, 500, 50, 0):
        for n in range(1000):
            try:
                await log.append(big(f"fill-{size}-{n}-", 1, size))
            except Unavailable as exc:
                assert "maximum bytes exceeded" in str(exc)
                break
            fitted += 1
        else:
            raise AssertionError("the stream never filled up")
    return fitted


async def test_fresh_streams_get_the_configured_limits(
    server: NatsServer,
    admin: NATS,
) -> None:
    settings = make_settings(
        stream_max_age_hours=48,
        stream_max_bytes=64 * MIB,
        deadletter_max_age_hours=240,
        deadletter_max_bytes=8 * MIB,
    )
    async with JetStreamEventLog(server.url, settings) as log:
        await log.ping()
    js = admin.jetstream()
    events_cfg = (await js.stream_info("KEFU_EVENTS")).config
    dead_cfg = (await js.stream_info("KEFU_DEADLETTER")).config
    assert (events_cfg.max_age, events_cfg.max_bytes) == (48 * 3600, 64 * MIB)
    assert (dead_cfg.max_age, dead_cfg.max_bytes) == (240 * 3600, 8 * MIB)
    assert events_cfg.discard == dead_cfg.discard == DiscardPolicy.NEW


async def test_defaults_are_a_week_and_ten_gib(server: NatsServer, admin: NATS) -> None:
    async with JetStreamEventLog(server.url, make_settings()):
        pass
    js = admin.jetstream()
    events_cfg = (await js.stream_info("KEFU_EVENTS")).config
    dead_cfg = (await js.stream_info("KEFU_DEADLETTER")).config
    assert (events_cfg.max_age, events_cfg.max_bytes) == (7 * 24 * 3600, 10 * 1024 * MIB)
    assert (dead_cfg.max_age, dead_cfg.max_bytes) == (30 * 24 * 3600, 1024 * MIB)


async def test_existing_stream_with_other_limits_is_updated_and_keeps_its_messages(
    server: NatsServer,
    admin: NATS,
) -> None:
    js = admin.jetstream()
    # As an older kefu (or an operator) left it: no age or byte limit, oldest dropped.
    await js.add_stream(
        StreamConfig(
            name="KEFU_EVENTS",
            subjects=["kefu.events.>"],
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            duplicate_window=120.0,
            max_msgs=1_000_000,  # an operator's own limit, which kefu leaves alone
        )
    )
    for n in range(100):
        await js.publish(f"kefu.events.test.old{n}", b'{"id":"old","type":"test.old"}')
    before = await js.stream_info("KEFU_EVENTS")
    settings = make_settings(stream_max_age_hours=72, stream_max_bytes=32 * MIB)
    async with JetStreamEventLog(server.url, settings) as log:
        await log.append(big("new-", 1))
    after = await js.stream_info("KEFU_EVENTS")
    assert after.config.max_age == 72 * 3600
    assert after.config.max_bytes == 32 * MIB
    assert after.config.discard == DiscardPolicy.NEW
    assert after.config.max_msgs == 1_000_000
    # Updated, not recreated: the same stream, every old message still there.
    assert after.created == before.created
    assert (after.state.first_seq, after.state.last_seq) == (1, 101)
    assert after.state.messages == 101


async def test_a_byte_limit_below_the_unread_events_is_refused(
    server: NatsServer,
    admin: NATS,
) -> None:
    js = admin.jetstream()
    async with JetStreamEventLog(server.url, make_settings(stream_max_bytes=4 * MIB)) as log:
        await log.append(big("unread-", 40))  # ~2 MB nobody has read
    held = (await js.stream_info("KEFU_EVENTS")).state
    with pytest.raises(ConfigError) as refused:
        await JetStreamEventLog(server.url, make_settings(stream_max_bytes=MIB)).start()
    assert str(refused.value).startswith("config error: events.jetstream.stream_max_bytes:")
    assert "would delete" in str(refused.value)
    after = await js.stream_info("KEFU_EVENTS")
    assert after.config.max_bytes == 4 * MIB
    assert (after.state.messages, after.state.first_seq) == (held.messages, held.first_seq)

    # Once a consumer has acknowledged them they are history: purged, and the limit fits.
    async def done(batch: Sequence[Received]) -> list[Result]:
        return [DONE] * len(batch)

    reading = JetStreamEventLog(server.url, make_settings(stream_max_bytes=4 * MIB))
    async with reading, consuming(reading, "reader", done):
        await until_async(lambda: _acked_to(admin, "reader", held.last_seq), 15, "acks")
    async with JetStreamEventLog(server.url, make_settings(stream_max_bytes=MIB)) as log:
        await log.ping()
    after = await js.stream_info("KEFU_EVENTS")
    assert after.config.max_bytes == MIB
    assert after.state.messages == 0
    assert after.state.last_seq == held.last_seq


async def _acked_to(admin: NATS, consumer: str, sequence: int) -> bool:
    try:
        info = await admin.jetstream().consumer_info("KEFU_EVENTS", consumer)
    except nats.js.errors.NotFoundError:
        return False  # the consuming task has not made it yet
    return bool(info.ack_floor.stream_seq >= sequence)


@pytest.fixture
async def db(store_url: str) -> AsyncIterator[Database]:
    async with Database(store_url) as database:
        await database.migrate()
        yield database


async def outbox_ids(db: Database) -> list[str]:
    async with db.connect() as conn:
        return list((await conn.execute(sa.select(outbox.c.event_id))).scalars())


async def test_full_stream_refuses_and_the_outbox_keeps_the_event_until_room(
    server: NatsServer,
    admin: NATS,
    db: Database,
) -> None:
    js = admin.jetstream()
    async with JetStreamEventLog(server.url, make_settings(stream_max_bytes=MIB)) as log:
        fitted = await fill(log)
        assert fitted > 0
        full = (await js.stream_info("KEFU_EVENTS")).state
        assert full.bytes <= MIB

        # kefu commits an event; the relay cannot publish it and leaves it in the outbox.
        waiting = Event(id="evt-waiting", type="customer.complaint", data={"text": "late"})
        async with db.begin() as conn:
            await emit(conn, [waiting], datetime.now(UTC))
        relay = OutboxRelay(OutboxRepository(db), log, batch=10)
        with pytest.raises(Unavailable, match="maximum bytes exceeded"):
            await relay.relay_once()
        assert await outbox_ids(db) == ["evt-waiting"]
        # Nothing was dropped to make room: every unread event is still there.
        state = (await js.stream_info("KEFU_EVENTS")).state
        assert (state.first_seq, state.messages) == (full.first_seq, full.messages)

        # The consumer reads and acknowledges; the relay's retries then purge that
        # history and publish the waiting event, which the consumer receives.
        seen: list[str] = []

        async def handle(batch: Sequence[Received]) -> list[Result]:
            seen.extend(item.event.id for item in batch)
            return [DONE] * len(batch)

        async with consuming(log, "rules", handle):
            running = asyncio.create_task(relay.run())
            try:
                await until_async(lambda: _empty(db), 30, "the outbox to drain")
                await until_async(lambda: _seen(seen, "evt-waiting"), 15, "the event delivered")
            finally:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
        assert seen.count("evt-waiting") == 1
        # Every event the full stream held, and the one that waited. (Not ``fitted + 1``:
        # a nats-server before 2.10.5 deletes the oldest event as the stream crosses its
        # limit, nats-io/nats-server#4772, which kefu warns about at start.)
        assert len(seen) == full.messages + 1
        state = (await js.stream_info("KEFU_EVENTS")).state
        assert state.first_seq > full.first_seq  # the acknowledged history was purged


async def _empty(db: Database) -> bool:
    return await outbox_ids(db) == []


async def _seen(seen: list[str], event_id: str) -> bool:
    return event_id in seen


@pytest.mark.parametrize(
    ("jetstream", "line"),
    [
        ({"stream_max_bytes": 0}, "events.jetstream.stream_max_bytes: Input should be greater"),
        ({"stream_max_bytes": -1}, "events.jetstream.stream_max_bytes: Input should be greater"),
        ({"deadletter_max_bytes": 1000}, "events.jetstream.deadletter_max_bytes: Input should"),
        ({"stream_max_age_hours": 0}, "events.jetstream.stream_max_age_hours: Input should be"),
        ({"deadletter_max_age_hours": -5}, "events.jetstream.deadletter_max_age_hours: Input"),
        (
            {"stream_max_age_hours": 0.01},
            "events.jetstream: stream_max_age_hours must be at least duplicate_window_seconds",
        ),
    ],
)
def test_bad_limits_fail_at_start_naming_the_key(jetstream: dict[str, Any], line: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(None, events={"jetstream": jetstream})
    assert str(refused.value).startswith(f"config error: {line}")
    assert "\n" not in str(refused.value)
