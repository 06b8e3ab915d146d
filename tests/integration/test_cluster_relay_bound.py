"""The relay's list of items waiting for NATS is bounded: past it, new items are dropped
and counted (``kefu_cluster_items_dropped_total``), the earlier ones still leave."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from kefu.cluster import envelope
from kefu.cluster.envelope import Audience, Frame
from kefu.cluster.relay import LiveRelay
from kefu.cluster.settings import ClusterSettings
from kefu.observability.metrics import REGISTRY
from tests.support.nats import NatsServer

DROPPED = "kefu_cluster_items_dropped_total"


def dropped() -> float:
    return REGISTRY.get_sample_value(DROPPED) or 0.0


def frame(key: str) -> Frame:
    return Frame(keys=[key], audience=Audience.NONE, frame=b"{}")


async def test_items_posted_past_the_bound_are_dropped_and_counted(nats: NatsServer) -> None:
    settings = ClusterSettings(subject=f"kefu.live.t{secrets.token_hex(4)}")
    heard: list[str] = []
    arrived = asyncio.Condition()

    async def on_message(msg: Msg) -> None:
        async with arrived:
            heard.extend(
                k
                for item in envelope.decode(msg.data)
                if isinstance(item, Frame)
                for k in item.keys
            )
            arrived.notify_all()

    listener = NATS()
    await listener.connect(nats.url)
    await listener.subscribe(settings.subject, cb=on_message)
    await listener.flush()
    relay = LiveRelay(nats.url, settings, name="bound-test", max_pending=5)
    await relay.start(lambda items: None)
    try:
        before = dropped()
        # One loop iteration, no await: the publisher cannot take the list in between.
        for n in range(8):
            relay.post(frame(f"k{n}"))
        assert dropped() - before == 3
        async with arrived:
            await asyncio.wait_for(arrived.wait_for(lambda: len(heard) >= 5), 10)
        # Barrier: an item posted after the first list left arrives after it; anything
        # of k5..k7 would have come before it.
        relay.post(frame("marker"))
        async with arrived:
            await asyncio.wait_for(arrived.wait_for(lambda: "marker" in heard), 10)
        assert heard == ["k0", "k1", "k2", "k3", "k4", "marker"]
        assert dropped() - before == 3
    finally:
        await relay.close()
        await listener.close()


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1, got 0"):
        LiveRelay("nats://127.0.0.1:1", ClusterSettings(), name="x", max_pending=0)
