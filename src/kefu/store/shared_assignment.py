"""Assignment across nodes: the store is the board.

One node's in-memory ``AssignmentBoard`` cannot see agents connected to another node, so
with several nodes every assignment decision is taken inside one PostgreSQL transaction
that holds a cluster-wide advisory lock: read who is online (``agent_presence``, renewed by
each node's heartbeat), their capacity and load, and the waiting conversations (VIP lane
first, its customer read as one node reads it: ``routing.VIP_LANE``; then oldest first);
let the pure ``AssignmentBoard`` decide; write the decisions. Two nodes deciding at once
queue on the lock, so an agent is never given more than their capacity and a
conversation never goes to two agents.

A decision costs a handful of indexed queries and runs only when something can change the
answer: a conversation opens, closes or moves, an agent comes online or their capacity
changes, and on every heartbeat (catching anything a failed attempt left behind). The
message path never touches it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from kefu.domain.assignment import Assignment, AssignmentBoard
from kefu.domain.conversation import ConversationStatus
from kefu.store.database import Database
from kefu.store.routing import IN_VIP_LANE, VIP_LANE
from kefu.store.tables import agent_presence, agents, conversations

# pg_advisory_xact_lock key: "kefu" + "assign" in ASCII, so it is easy to spot in pg_locks.
ASSIGNMENT_LOCK = 0x6B656675_61737367


@dataclass(frozen=True, slots=True)
class Drained:
    assignments: list[Assignment]
    waiting: int  # conversations still waiting afterwards
    available: set[str]  # agents online on any node who take conversations (enabled, not away)


@dataclass(frozen=True, slots=True)
class Presence:
    present: set[str]  # agents with a socket on any live node
    available: set[str]  # of those, the ones taking conversations (enabled, not away)


class SharedAssignments:
    def __init__(
        self, db: Database, node_id: str, default_capacity: int, presence_ttl: timedelta
    ) -> None:
        if db.dialect != "postgresql":
            raise ValueError("assignment across nodes needs PostgreSQL")
        self._db = db
        self._node_id = node_id
        self._default_capacity = default_capacity
        self._ttl = presence_ttl

    @property
    def node_id(self) -> str:
        return self._node_id

    # -- presence -------------------------------------------------------------------------
    async def arrive(self, agent_id: str, now: datetime) -> None:
        """``agent_id`` has a socket on this node."""
        statement = postgresql.insert(agent_presence).values(
            agent_id=agent_id, node_id=self._node_id, seen_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=[agent_presence.c.agent_id, agent_presence.c.node_id],
            set_={"seen_at": now},
        )
        async with self._db.begin() as conn:
            await conn.execute(statement)

    async def leave(self, agent_id: str) -> None:
        """``agent_id``'s last socket on this node closed."""
        async with self._db.begin() as conn:
            await conn.execute(
                agent_presence.delete()
                .where(agent_presence.c.agent_id == agent_id)
                .where(agent_presence.c.node_id == self._node_id)
            )

    async def heartbeat(self, now: datetime, here: Collection[str]) -> None:
        """Renew this node's agents (``here``: those with a socket on it now), drop its
        rows for agents no longer here, and forget nodes that stopped renewing (crashed).

        Upserting every beat heals what a lost ``arrive``/``leave`` got wrong (a socket
        reconnecting while the old one's ``leave`` was in flight, say).
        """
        async with self._db.begin() as conn:
            await conn.execute(
                agent_presence.delete()
                .where(agent_presence.c.node_id == self._node_id)
                .where(agent_presence.c.agent_id.not_in(list(here)))
            )
            if here:
                statement = postgresql.insert(agent_presence).values(
                    [{"agent_id": a, "node_id": self._node_id, "seen_at": now} for a in here]
                )
                statement = statement.on_conflict_do_update(
                    index_elements=[agent_presence.c.agent_id, agent_presence.c.node_id],
                    set_={"seen_at": now},
                )
                await conn.execute(statement)
            await conn.execute(
                agent_presence.delete().where(agent_presence.c.seen_at < now - 2 * self._ttl)
            )

    async def depart(self) -> None:
        """This node stops: its agents are offline here at once, not after the TTL."""
        async with self._db.begin() as conn:
            await conn.execute(
                agent_presence.delete().where(agent_presence.c.node_id == self._node_id)
            )

    async def online(self, now: datetime) -> set[str]:
        """Agents with a socket on any live node."""
        return (await self.presence(now)).present

    async def presence(self, now: datetime) -> Presence:
        """Who has a socket on any live node, and which of them take conversations."""
        query = (
            sa.select(agent_presence.c.agent_id, agents.c.disabled, agents.c.away)
            .join(agents, agents.c.id == agent_presence.c.agent_id)
            .where(agent_presence.c.seen_at >= now - self._ttl)
            .distinct()
        )
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return Presence(
            {row.agent_id for row in rows},
            {row.agent_id for row in rows if not row.disabled and not row.away},
        )

    # -- decisions ------------------------------------------------------------------------
    async def drain(self, now: datetime) -> Drained:
        """Give waiting conversations to online agents with room, under the cluster lock."""
        async with self._db.begin() as conn:
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(ASSIGNMENT_LOCK)))
            online = (
                await conn.execute(
                    sa.select(agents.c.id, agents.c.capacity)
                    .where(
                        agents.c.id.in_(
                            sa.select(agent_presence.c.agent_id).where(
                                agent_presence.c.seen_at >= now - self._ttl
                            )
                        )
                    )
                    .where(agents.c.disabled.is_(False))
                    .where(agents.c.away.is_(False))
                )
            ).all()
            board = AssignmentBoard()
            if online:
                load_rows = await conn.execute(
                    sa.select(conversations.c.assignee_id, sa.func.count().label("load"))
                    .where(conversations.c.status == ConversationStatus.ASSIGNED.value)
                    .where(conversations.c.assignee_id.in_([row.id for row in online]))
                    .group_by(conversations.c.assignee_id)
                )
                loads = {row.assignee_id: int(row.load) for row in load_rows}
                for row in online:
                    capacity = row.capacity or self._default_capacity
                    board.restore_load(row.id, capacity, int(loads.get(row.id, 0)))
                    board.agent_online(row.id, capacity)
            room = sum(max(0, slot_free) for slot_free in board.free_slots())
            waiting_query = (
                sa.select(conversations.c.id, IN_VIP_LANE.label("vip"))
                .select_from(VIP_LANE)
                .where(conversations.c.status == ConversationStatus.WAITING.value)
                .order_by(IN_VIP_LANE.desc(), conversations.c.created_at)
                .limit(room)
            )
            waiting = (await conn.execute(waiting_query)).all() if room else []
            for row in waiting:
                board.enqueue(row.id, vip=bool(row.vip))
            given: list[Assignment] = []
            for assignment in board.drain():
                result = await conn.execute(
                    conversations.update()
                    .where(conversations.c.id == assignment.conversation_id)
                    .where(conversations.c.status == ConversationStatus.WAITING.value)
                    .values(
                        status=ConversationStatus.ASSIGNED.value,
                        assignee_id=assignment.agent_id,
                        updated_at=now,
                    )
                )
                if result.rowcount:  # not closed meanwhile by a node without the lock
                    given.append(assignment)
            left = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(conversations)
                    .where(conversations.c.status == ConversationStatus.WAITING.value)
                )
            ).scalar_one()
        return Drained(given, int(left), {row.id for row in online})
