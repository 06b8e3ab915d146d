"""The peers' announced audiences decide what crosses nodes, and every doubt publishes:
nothing heard yet, a peer gone quiet, an announcement that does not read."""

from __future__ import annotations

import pytest

from kefu.cluster.envelope import Audience
from kefu.cluster.peers import Peers

SUPERVISORS, AGENTS = Audience.SUPERVISORS, Audience.AGENTS
LISTEN = 7.5  # 1.5 heartbeats of 5 s, as the relay sets it
TTL = 15.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def peers(clock: FakeClock) -> Peers:
    """Past the first listening period, having heard from nobody."""
    peers = Peers(clock, LISTEN)
    clock.now += LISTEN
    return peers


def wants(peers: Peers) -> set[Audience]:
    return {a for a in (SUPERVISORS, AGENTS) if peers.wanted(a)}


def test_before_hearing_anyone_everything_is_wanted(clock: FakeClock) -> None:
    peers = Peers(clock, LISTEN)
    assert wants(peers) == {SUPERVISORS, AGENTS}
    peers.heard("b", [], TTL)  # one peer heard early says nothing of the others
    clock.now += LISTEN - 0.01
    assert wants(peers) == {SUPERVISORS, AGENTS}
    clock.now += 0.01
    assert wants(peers) == set()


def test_alone_after_listening_nothing_is_wanted(peers: Peers) -> None:
    assert wants(peers) == set()
    assert not peers.wanted(Audience.NONE)


def test_what_fresh_peers_hold_is_wanted(peers: Peers) -> None:
    peers.heard("b", [AGENTS], TTL)
    assert wants(peers) == {AGENTS}
    peers.heard("c", [AGENTS, SUPERVISORS], TTL)
    assert wants(peers) == {AGENTS, SUPERVISORS}
    peers.heard("c", [], TTL)  # c's last supervisor left
    assert wants(peers) == {AGENTS}
    assert peers.known() == {"b": frozenset({AGENTS}), "c": frozenset()}


def test_a_peer_gone_quiet_makes_everything_wanted_then_is_forgotten(
    peers: Peers, clock: FakeClock
) -> None:
    peers.heard("b", [], TTL)
    peers.heard("c", [AGENTS], TTL)
    clock.now += TTL / 2
    peers.heard("c", [AGENTS], TTL)  # c keeps announcing, b falls silent
    assert wants(peers) == {AGENTS}
    clock.now += TTL / 2  # b's announcement is ttl old: stale
    assert wants(peers) == {SUPERVISORS, AGENTS}
    peers.heard("c", [AGENTS], TTL)
    assert wants(peers) == {SUPERVISORS, AGENTS}  # b still stale
    clock.now += TTL  # b silent for two ttls: forgotten
    peers.heard("c", [AGENTS], TTL)
    assert wants(peers) == {AGENTS}
    assert set(peers.known()) == {"c"}


def test_a_stale_peer_heard_again_is_fresh(peers: Peers, clock: FakeClock) -> None:
    peers.heard("b", [], TTL)
    clock.now += TTL + 1
    assert wants(peers) == {SUPERVISORS, AGENTS}
    peers.heard("b", [], TTL)
    assert wants(peers) == set()


def test_the_ttl_is_the_announcers(peers: Peers, clock: FakeClock) -> None:
    peers.heard("quick", [], 1.0)
    peers.heard("slow", [], 60.0)
    clock.now += 1.0
    assert wants(peers) == {SUPERVISORS, AGENTS}
    clock.now += 1.0
    assert set(peers.known()) == {"slow"}
    assert wants(peers) == set()


def test_a_peer_that_leaves_is_forgotten_at_once(peers: Peers) -> None:
    peers.heard("b", [SUPERVISORS, AGENTS], TTL)
    peers.left("b")
    assert wants(peers) == set()
    peers.left("never-heard")  # harmless
    assert peers.known() == {}


def test_restart_forgets_and_listens_again(peers: Peers, clock: FakeClock) -> None:
    peers.heard("b", [], TTL)
    assert wants(peers) == set()
    peers.restart(LISTEN)  # NATS reconnect: announcements may have been missed
    assert peers.known() == {}
    assert wants(peers) == {SUPERVISORS, AGENTS}
    peers.heard("b", [], TTL)
    clock.now += LISTEN
    assert wants(peers) == set()


def test_unsure_wants_everything_for_a_while_and_keeps_what_it_knows(
    peers: Peers, clock: FakeClock
) -> None:
    peers.heard("b", [AGENTS], TTL)
    peers.unsure(5.0)
    assert wants(peers) == {SUPERVISORS, AGENTS}
    clock.now += 5.0
    assert wants(peers) == {AGENTS}


def test_the_cached_answer_follows_the_clock(peers: Peers, clock: FakeClock) -> None:
    """``wanted`` caches its answer; it must still turn at the exact expiry."""
    peers.heard("b", [], TTL)
    for _ in range(3):
        assert not peers.wanted(SUPERVISORS)
    clock.now += TTL - 0.001
    assert not peers.wanted(SUPERVISORS)
    clock.now += 0.001
    assert peers.wanted(SUPERVISORS)
    clock.now += TTL
    assert not peers.wanted(SUPERVISORS)  # forgotten: alone again
