"""Which audiences the other nodes hold, as far as this node has heard: the bookkeeping
behind "publish a frame for every supervisor only if some other node has one".

Every node announces, with its heartbeat and at once when it gains one, the audiences it
has sockets for (``envelope.Announce``). This module keeps those announcements and decides;
it does no I/O and reads time only through the clock it is given, so every rule below is
a unit test away (tests/unit/test_cluster_peers.py).

The rules lean towards publishing, because a frame published in vain costs another node a
decode while a frame withheld by mistake is a supervisor's list going stale:

- **listening**: after (re)connecting, a node has missed announcements, so it wants every
  audience until it has listened for ``listen_for`` seconds (longer than a peer's
  announcement interval: by then every live peer has spoken).
- **fresh**: a peer's announcement counts for the ``ttl`` it carries (a few of its
  heartbeats, so one late or lost announcement changes nothing).
- **stale**: a peer past its ttl may be alive and slow, so while any peer is stale every
  audience is wanted; after a second ttl of silence it is forgotten (it crashed, or its own
  NATS link is down and frames would not reach it either; it announces again on return).
- **left**: a peer that stops cleanly says so and is forgotten at once.
- **unsure**: an announcement this node cannot read (a newer kefu?) means a peer whose
  needs are unknown: every audience is wanted for a while.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kefu.cluster.envelope import Audience

Clock = Callable[[], float]  # monotonic seconds (time.monotonic in production)

# What "publish everything" means: every audience a frame can name.
EVERY_AUDIENCE = frozenset({Audience.SUPERVISORS, Audience.AGENTS})


@dataclass(frozen=True, slots=True)
class Peer:
    audiences: frozenset[Audience]
    fresh_until: float  # announcement counts until then
    forget_at: float  # stale in between; gone after


class Peers:
    """The other nodes' announced audiences, with expiry; ``wanted`` is the hot-path read
    (once per "every supervisor" frame), so its answer is cached until the next moment it
    can change (an expiry, the end of listening) or an announcement arrives."""

    def __init__(self, clock: Clock, listen_for: float) -> None:
        self._clock = clock
        self._peers: dict[str, Peer] = {}
        self._listening_until = clock() + listen_for  # nothing heard yet: want everything
        self._wanted: frozenset[Audience] = EVERY_AUDIENCE
        self._valid_until = -math.inf  # recompute on the first read

    def restart(self, listen_for: float) -> None:
        """The link to the others was (re)established: what was heard before may have
        changed unseen, so forget it and want everything while listening again."""
        self._peers.clear()
        self._listening_until = self._clock() + listen_for
        self._valid_until = -math.inf

    def unsure(self, for_seconds: float) -> None:
        """Some peer's needs are unknown (its announcement did not decode): want every
        audience for ``for_seconds`` without forgetting what is known."""
        self._listening_until = max(self._listening_until, self._clock() + for_seconds)
        self._valid_until = -math.inf

    def heard(self, node: str, audiences: Iterable[Audience], ttl: float) -> None:
        """``node`` holds ``audiences`` now, and says so again within ``ttl`` seconds."""
        now = self._clock()
        self._peers[node] = Peer(frozenset(audiences), now + ttl, now + 2 * ttl)
        self._valid_until = -math.inf

    def left(self, node: str) -> None:
        """``node`` stopped cleanly: its sockets are gone with it."""
        if self._peers.pop(node, None) is not None:
            self._valid_until = -math.inf

    def wanted(self, audience: Audience) -> bool:
        """Should a frame for ``audience`` (and no named principal) go to the others?"""
        now = self._clock()
        if now >= self._valid_until:
            self._decide(now)
        return audience in self._wanted

    def known(self) -> dict[str, frozenset[Audience]]:
        """Fresh and stale peers with what they last announced (for logs and tests)."""
        self._decide(self._clock())
        return {node: peer.audiences for node, peer in self._peers.items()}

    def _decide(self, now: float) -> None:
        for node in [n for n, p in self._peers.items() if now >= p.forget_at]:
            del self._peers[node]
        if now < self._listening_until:
            self._wanted, self._valid_until = EVERY_AUDIENCE, self._listening_until
            return
        stale = [p.forget_at for p in self._peers.values() if now >= p.fresh_until]
        if stale:
            # Until the first stale peer is forgotten (or a fresh one turns stale, which
            # changes nothing while everything is wanted anyway).
            self._wanted, self._valid_until = EVERY_AUDIENCE, min(stale)
            return
        wanted: set[Audience] = set()
        for peer in self._peers.values():
            wanted |= peer.audiences
        self._wanted = frozenset(wanted)
        self._valid_until = min((p.fresh_until for p in self._peers.values()), default=math.inf)
