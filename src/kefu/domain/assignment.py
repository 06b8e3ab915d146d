"""Who gets the next conversation: least-loaded online agent with free capacity.

Pure bookkeeping, driven by the chat service: agents come online and go offline,
conversations are opened, transferred and closed. When nobody has room the conversation
waits in a FIFO queue and is handed out, oldest first, the moment someone frees up or
comes online; VIP customers' conversations (a rule's ``route_customer: {queue: vip}``)
wait in a lane of their own that is always served first. Ties go to the agent who has
waited longest since their last assignment, so work spreads evenly instead of always
landing on the first agent in the list.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class AgentSlot:
    agent_id: str
    capacity: int
    load: int = 0
    online: bool = False
    last_assigned: int = 0  # a logical clock tick, not a wall time: keeps the policy pure

    @property
    def free(self) -> int:
        return self.capacity - self.load


@dataclass(frozen=True, slots=True)
class Assignment:
    conversation_id: str
    agent_id: str


class AssignmentBoard:
    """In-memory view of agent load and the waiting queue; every method is O(agents)."""

    def __init__(self) -> None:
        self._agents: dict[str, AgentSlot] = {}
        self._waiting: OrderedDict[str, None] = OrderedDict()
        self._waiting_vip: OrderedDict[str, None] = OrderedDict()
        self._tick = 0

    # -- agents ---------------------------------------------------------------------------
    def agent_online(self, agent_id: str, capacity: int) -> list[Assignment]:
        slot = self._agents.get(agent_id)
        if slot is None:
            slot = self._agents[agent_id] = AgentSlot(agent_id, capacity)
        slot.capacity = capacity
        slot.online = True
        return self._drain()

    def agent_offline(self, agent_id: str) -> None:
        slot = self._agents.get(agent_id)
        if slot is not None:
            slot.online = False

    def set_capacity(self, agent_id: str, capacity: int) -> list[Assignment]:
        slot = self._agents.get(agent_id)
        if slot is None:
            return []
        slot.capacity = capacity
        return self._drain()

    def restore_load(self, agent_id: str, capacity: int, load: int) -> None:
        """Seed the board from the store at start so a restart keeps counting right."""
        slot = self._agents.setdefault(agent_id, AgentSlot(agent_id, capacity))
        slot.capacity = capacity
        slot.load = load

    def is_online(self, agent_id: str) -> bool:
        slot = self._agents.get(agent_id)
        return slot is not None and slot.online

    def anyone_online(self) -> bool:
        return any(slot.online for slot in self._agents.values())

    def load_of(self, agent_id: str) -> int:
        slot = self._agents.get(agent_id)
        return slot.load if slot else 0

    # -- conversations --------------------------------------------------------------------
    def request(self, conversation_id: str) -> Assignment | None:
        """A new conversation wants an agent: assign now, or queue it."""
        agent = self._pick()
        if agent is None:
            self._waiting[conversation_id] = None
            return None
        return self._give(conversation_id, agent)

    def take(self, agent_id: str) -> None:
        """Count a conversation given to ``agent_id`` by hand (transfer, restore)."""
        slot = self._agents.get(agent_id)
        if slot is not None:
            slot.load += 1

    def release(self, agent_id: str | None) -> list[Assignment]:
        """A conversation left ``agent_id`` (closed or transferred away)."""
        if agent_id is not None:
            slot = self._agents.get(agent_id)
            if slot is not None and slot.load > 0:
                slot.load -= 1
        return self._drain()

    def withdraw(self, conversation_id: str) -> None:
        """A waiting conversation was closed or taken by hand before the queue reached it."""
        self._waiting.pop(conversation_id, None)
        self._waiting_vip.pop(conversation_id, None)

    def enqueue(self, conversation_id: str, *, vip: bool = False) -> None:
        (self._waiting_vip if vip else self._waiting)[conversation_id] = None

    def promote(self, conversation_id: str) -> None:
        """Move a waiting conversation to the VIP lane (behind earlier VIPs)."""
        if self._waiting.pop(conversation_id, False) is None:
            self._waiting_vip[conversation_id] = None

    @property
    def queue_length(self) -> int:
        return len(self._waiting) + len(self._waiting_vip)

    def free_slots(self) -> list[int]:
        """Room left per online agent (how many waiting conversations could be served)."""
        return [slot.free for slot in self._agents.values() if slot.online]

    def drain(self) -> list[Assignment]:
        """Hand waiting conversations to whoever has room (a board rebuilt from a shared
        store decides this way: ``kefu.store.shared_assignment``)."""
        return self._drain()

    def waiting(self) -> list[str]:
        """In the order they will be served."""
        return [*self._waiting_vip, *self._waiting]

    # -- policy ---------------------------------------------------------------------------
    def _pick(self) -> AgentSlot | None:
        best: AgentSlot | None = None
        for slot in self._agents.values():
            if not slot.online or slot.free <= 0:
                continue
            if best is None or (slot.load, slot.last_assigned, slot.agent_id) < (
                best.load,
                best.last_assigned,
                best.agent_id,
            ):
                best = slot
        return best

    def _give(self, conversation_id: str, slot: AgentSlot) -> Assignment:
        self._tick += 1
        slot.load += 1
        slot.last_assigned = self._tick
        return Assignment(conversation_id, slot.agent_id)

    def _drain(self) -> list[Assignment]:
        given: list[Assignment] = []
        while self._waiting_vip or self._waiting:
            agent = self._pick()
            if agent is None:
                break
            lane = self._waiting_vip or self._waiting
            conversation_id, _ = lane.popitem(last=False)
            given.append(self._give(conversation_id, agent))
        return given
