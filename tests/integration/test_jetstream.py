"""The JetStream event log against a real nats-server: durability, dedupe, crash
redelivery, retries and dead letters, a server restart, and a throughput print.

Each test starts its own throwaway ``nats-server`` (free port, temporary store dir): the
streams use the real subjects (``kefu.events.>``), which would collide with streams other
tests keep on the machine's shared server, and the restart test has to kill its server.
A missing nats-server binary fails these tests; it never skips them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS

from kefu.bus.jetstream import JetStreamEventLog
from kefu.domain.envelope import Event
from kefu.errors import TooLarge, Unavailable
from kefu.events.log import DONE, Outcome, Received, Result
from tests.support.jetstream import consuming, make_settings, until_async
from tests.support.nats import NatsServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    running = NatsServer(tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def admin(server: NatsServer) -> AsyncIterator[NATS]:
    """A plain connection for looking at what the server stored."""
    nc = await nats.connect(server.url)
    try:
        yield nc
    finally:
        await nc.close()


def events(count: int, prefix: str = "e", type_: str = "test.thing") -> list[Event]:
    return [Event(id=f"{prefix}{n}", type=type_, data={"n": n}) for n in range(count)]


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def stream_messages(admin: NATS, stream: str) -> int:
    info = await admin.jetstream().stream_info(stream)
    return int(info.state.messages)


async def test_ten_thousand_events_each_delivered_once(server: NatsServer, admin: NATS) -> None:
    seen: Counter[str] = Counter()

    async def handle(batch: Sequence[Received]) -> list[Result]:
        for item in batch:
            assert item.attempt == 1
            seen[item.event.id] += 1
        return [DONE] * len(batch)

    async with JetStreamEventLog(server.url, make_settings()) as log:
        sent = events(10_000)
        await log.append(sent)
        assert await stream_messages(admin, "KEFU_EVENTS") == 10_000
        async with consuming(log, "all", handle):
            await until(lambda: len(seen) == 10_000, 30, "10,000 events")
            js = admin.jetstream()
            await until_async(lambda: _settled(js, "all"), 10, "every delivery acknowledged")
        assert set(seen) == {e.id for e in sent}
        assert set(seen.values()) == {1}
        info = await admin.jetstream().consumer_info("KEFU_EVENTS", "all")
        assert info.num_redelivered == 0
        assert info.config.ack_wait == 5.0
        assert info.config.max_deliver == -1
        assert not info.config.backoff


async def _settled(js: Any, consumer: str) -> bool:
    info = await js.consumer_info("KEFU_EVENTS", consumer)
    return bool(info.num_ack_pending == 0 and info.num_pending == 0)


async def test_same_id_twice_in_the_window_is_stored_once(server: NatsServer, admin: NATS) -> None:
    async with JetStreamEventLog(server.url, make_settings()) as log:
        event = Event(id="evt_once", type="customer.complaint", data={"text": "late"})
        await log.append([event])
        await log.append([event])  # the caller retried after a lost response
        await log.append([event, Event(id="evt_other", type="customer.complaint")])
        assert await stream_messages(admin, "KEFU_EVENTS") == 2
        info = await admin.jetstream().stream_info("KEFU_EVENTS")
        assert info.config.duplicate_window == 120.0
        assert info.config.subjects == ["kefu.events.>"]


async def test_too_large_event_stores_nothing(server: NatsServer, admin: NATS) -> None:
    async with JetStreamEventLog(server.url, make_settings()) as log:
        huge = Event(id="huge", type="test.thing", data={"blob": "x" * (1 << 20)})
        with pytest.raises(TooLarge):
            await log.append([*events(3), huge])
        assert await stream_messages(admin, "KEFU_EVENTS") == 0


async def test_streams_are_updated_and_operator_limits_kept(
    server: NatsServer, admin: NATS
) -> None:
    js = admin.jetstream()
    async with JetStreamEventLog(server.url, make_settings()):
        pass
    info = await js.stream_info("KEFU_EVENTS")
    info.config.max_msgs = 1_000_000  # an operator's own limit
    await js.update_stream(info.config)
    async with JetStreamEventLog(server.url, make_settings(duplicate_window_seconds=30.0)) as log:
        await log.ping()
    info = await js.stream_info("KEFU_EVENTS")
    assert (info.config.duplicate_window, info.config.max_msgs) == (30.0, 1_000_000)
    dead = await js.stream_info("KEFU_DEADLETTER")
    assert dead.config.subjects == ["kefu.deadletter.>"]


async def test_consumer_killed_mid_batch_redelivers_and_effects_apply_once(
    server: NatsServer,
) -> None:
    settings = make_settings(batch=50, ack_wait_seconds=1.0)
    effects: Counter[str] = Counter()  # the "table" the handler writes
    processed: set[str] = set()  # dedupe by event id, stored with the effect
    first_batch: list[str] = []
    stuck = asyncio.Event()

    async def crashing(batch: Sequence[Received]) -> list[Result]:
        first_batch.extend(item.event.id for item in batch)
        for item in batch[: len(batch) // 2]:  # half the effects are committed ...
            effects[item.event.id] += 1
            processed.add(item.event.id)
        stuck.set()
        await asyncio.Event().wait()  # ... then the process dies before acknowledging
        raise AssertionError("unreachable")

    redelivered: dict[str, int] = {}

    async def deduping(batch: Sequence[Received]) -> list[Result]:
        for item in batch:
            redelivered.setdefault(item.event.id, item.attempt)
            if item.event.id not in processed:
                effects[item.event.id] += 1
                processed.add(item.event.id)
        return [DONE] * len(batch)

    async with JetStreamEventLog(server.url, settings) as log:
        sent = events(200)
        await log.append(sent)
        async with consuming(log, "crashy", crashing):
            await asyncio.wait_for(stuck.wait(), 10)
        assert len(first_batch) == 50

        started = time.monotonic()
        async with consuming(log, "crashy", deduping):
            await until(lambda: len(processed) == 200, 20, "all effects")
            await until(lambda: set(first_batch) <= set(redelivered), 20, "the batch again")
        # The interrupted batch came again, as a redelivery, once ack_wait had passed.
        assert all(redelivered[event_id] >= 2 for event_id in first_batch)
        assert time.monotonic() - started >= 0.5
        assert effects == Counter({e.id: 1 for e in sent})


async def test_retry_backoff_dead_letters_and_malformed(server: NatsServer, admin: NATS) -> None:
    backoff = [0.3, 0.6]
    settings = make_settings(batch=20, max_attempts=3, backoff_seconds=backoff)
    attempts: dict[str, list[tuple[int, float]]] = defaultdict(list)
    done: set[str] = set()

    async def handle(batch: Sequence[Received]) -> list[Result]:
        results = []
        for item in batch:
            attempts[item.event.id].append((item.attempt, time.monotonic()))
            if item.event.id == "retry-me":
                results.append(Result(Outcome.RETRY, "the CRM is down\nline two"))
            elif item.event.id == "dead-me":
                results.append(Result(Outcome.DEAD, "no such customer"))
            else:
                done.add(item.event.id)
                results.append(DONE)
        return results

    async with JetStreamEventLog(server.url, settings) as log:
        await log.append(
            [
                *events(5, "before"),
                Event(id="retry-me", type="crm.sync"),
                Event(id="dead-me", type="x"),
            ]
        )
        # Systems publishing straight to NATS can send anything.
        js = admin.jetstream()
        await js.publish("kefu.events.x", b"{not json")
        await js.publish("kefu.events.x", b'{"id": "typed", "type": "y"}')  # type != subject
        await js.publish("kefu.events.x", b'{"id": "no-type-needed", "data": {}}')
        await log.append(events(5, "after"))

        async with consuming(log, "retrying", handle):
            await until(lambda: len(attempts["retry-me"]) == 3, 15, "three attempts")
            await until(
                lambda: len(done) == 11, 10, "the other events"
            )  # 5 before, 5 after, 1 raw without a type
            letters = []

            async def four_letters() -> bool:
                letters[:] = await log.dead_letters()
                return len(letters) == 4

            await until_async(four_letters, 10, "four dead letters")
            # Nothing comes after the last attempt: the consumer owes no delivery (none
            # pending, none awaiting its ack), so there is nothing left to redeliver.
            js = admin.jetstream()
            await until_async(lambda: _settled(js, "retrying"), 10, "nothing owed")
        assert "no-type-needed" in done

        tries = attempts["retry-me"]
        assert [n for n, _ in tries] == [1, 2, 3]
        assert tries[1][1] - tries[0][1] >= backoff[0] * 0.9
        assert tries[2][1] - tries[1][1] >= backoff[1] * 0.9
        assert [n for n, _ in attempts["dead-me"]] == [1]

        by_id = {letter.event_id: letter for letter in letters if letter.event_id}
        retry = by_id["retry-me"]
        assert retry.reason == "the CRM is down line two (after 3 attempts)"
        assert retry.attempts == 3
        assert retry.subject == "kefu.deadletter.crm.sync"
        assert retry.original_subject == "kefu.events.crm.sync"
        assert retry.payload == b'{"id":"retry-me","type":"crm.sync"}'
        dead = by_id["dead-me"]
        assert (dead.reason, dead.attempts, dead.subject) == (
            "no such customer",
            1,
            "kefu.deadletter.x",
        )
        malformed = [letter for letter in letters if letter.subject == "kefu.deadletter.x"]
        reasons = sorted(letter.reason for letter in malformed if letter.event_id != "dead-me")
        assert reasons[0].startswith("invalid event: not JSON")
        assert "does not match subject" in reasons[1]
        assert {letter.payload for letter in malformed} >= {b"{not json"}
        # Paging: after the last one there is nothing.
        assert await log.dead_letters(after=letters[-1].sequence) == []
        assert [x.sequence for x in await log.dead_letters(limit=2)] == [
            x.sequence for x in letters[:2]
        ]
        info = await js.consumer_info("KEFU_EVENTS", "retrying")
        assert info.num_ack_pending == 0


async def test_handler_exception_retries_the_batch(server: NatsServer) -> None:
    settings = make_settings(backoff_seconds=[0.2])
    calls: list[list[tuple[str, int]]] = []

    async def handle(batch: Sequence[Received]) -> list[Result]:
        calls.append([(item.event.id, item.attempt) for item in batch])
        if len(calls) == 1:
            raise RuntimeError("database connection reset")
        return [DONE] * len(batch)

    async with JetStreamEventLog(server.url, settings) as log:
        await log.append(events(3))
        async with consuming(log, "raising", handle):
            await until(lambda: sum(len(c) for c in calls) >= 6, 10, "the batch again")
        assert sorted(calls[0]) == [("e0", 1), ("e1", 1), ("e2", 1)]
        assert sorted(x for c in calls[1:] for x in c) == [("e0", 2), ("e1", 2), ("e2", 2)]


async def test_deliveries_past_max_attempts_without_outcome_are_dead_lettered(
    server: NatsServer,
) -> None:
    """A consumer that dies on the last attempt does not make the event vanish (the
    server's own max_deliver would drop it silently): the next delivery dead-letters it."""
    settings = make_settings(max_attempts=1, ack_wait_seconds=0.5)
    stuck = asyncio.Event()

    async def crashing(batch: Sequence[Received]) -> list[Result]:
        stuck.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    handled: list[str] = []

    async def handle(batch: Sequence[Received]) -> list[Result]:
        handled.extend(item.event.id for item in batch)
        return [DONE] * len(batch)

    async with JetStreamEventLog(server.url, settings) as log:
        await log.append(events(1))
        async with consuming(log, "fragile", crashing):
            await asyncio.wait_for(stuck.wait(), 10)
        async with consuming(log, "fragile", handle):
            letters = []

            async def one_letter() -> bool:
                letters[:] = await log.dead_letters()
                return len(letters) == 1

            await until_async(one_letter, 10, "the dead letter")
        assert handled == []
        assert letters[0].event_id == "e0"
        assert letters[0].attempts >= 2
        assert "no outcome" in letters[0].reason


async def test_nats_restart_loses_nothing(server: NatsServer) -> None:
    settings = make_settings(batch=100, ack_wait_seconds=2.0, backoff_seconds=[0.2])
    appended: set[str] = set()
    handled: set[str] = set()
    append_failures = 0

    async def handle(batch: Sequence[Received]) -> list[Result]:
        handled.update(item.event.id for item in batch)  # a dedupe set: repeats are harmless
        return [DONE] * len(batch)

    log = JetStreamEventLog(
        server.url, settings, reconnect_time_wait=0.2, publish_timeout=1.0, fetch_timeout=1.0
    )
    async with log:

        async def produce() -> None:
            nonlocal append_failures
            for batch_no in range(60):
                batch = events(100, f"b{batch_no}-")
                while True:
                    try:
                        await log.append(batch)
                        break
                    except Unavailable:
                        append_failures += 1  # the same ids again: the stream dedupes them
                        await asyncio.sleep(0.1)
                appended.update(e.id for e in batch)
                await asyncio.sleep(0.02)

        async with consuming(log, "survivor", handle):
            producer = asyncio.create_task(produce())
            await until(lambda: len(appended) >= 1500, 30, "some appends before the restart")
            server.stop()
            # Longer than publish_timeout: appends buffered by the client fail, the
            # producer retries them, fetches time out.
            await asyncio.sleep(2.5)
            server.start()
            await asyncio.wait_for(producer, 90)
            await until(lambda: appended <= handled, 60, "every appended event handled")
        await log.ping()
    assert len(appended) == 6000
    assert append_failures > 0  # the outage was real


async def test_ping(server: NatsServer) -> None:
    log = JetStreamEventLog(server.url, make_settings(), reconnect_time_wait=0.2)
    async with log:
        await log.ping()
        server.stop()
        await asyncio.sleep(0.3)
        with pytest.raises(Unavailable):
            await log.ping()
        server.start()
        await until_async(_pings(log), 15, "ready again")
    closed = JetStreamEventLog("nats://127.0.0.1:1", make_settings(), connect_timeout=0.5)
    with pytest.raises(Unavailable):
        await closed.ping()


def _pings(log: JetStreamEventLog) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        try:
            await log.ping()
        except Unavailable:
            return False
        return True

    return check


async def test_one_call_chunked_and_concurrent_appends_are_all_consumed(
    server: NatsServer,
) -> None:
    """The three ways events reach the log (one big append, POST /api/v1/events' 1,000 per
    call one at a time, many such calls at once) all arrive, each event once. Rates are
    the bench's business (``bench.run --only events_jetstream``), not this test's."""
    total = 5_000
    settings = make_settings(batch=500)
    seen: list[str] = []

    async def handle(batch: Sequence[Received]) -> list[Result]:
        seen.extend(item.event.id for item in batch)
        return [DONE] * len(batch)

    async with JetStreamEventLog(server.url, settings, publish_timeout=60.0) as log:
        sent = events(total, "tp")
        await log.append(sent)
        chunked = events(total, "tc")
        for index in range(0, total, 1000):
            await log.append(chunked[index : index + 1000])
        concurrent = events(total, "tk")
        async with asyncio.TaskGroup() as group:
            for index in range(0, total, 1000):
                group.create_task(log.append(concurrent[index : index + 1000]))
        async with consuming(log, "fast", handle):
            await until(lambda: len(seen) >= 3 * total, 120, "every event")
    assert sorted(seen) == sorted(event.id for event in [*sent, *chunked, *concurrent])
