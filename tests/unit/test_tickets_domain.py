"""The ticket status machine (every pair), priorities, and the PATCH planner."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from msgspec.structs import replace

from kefu.domain.errors import IllegalTransition
from kefu.domain.tickets import (
    Channel,
    Priority,
    SlaState,
    Ticket,
    TicketPatch,
    TicketStatus,
    can_transition,
    check_transition,
    plan_update,
)

S = TicketStatus
ALLOWED = {
    (S.NEW, S.OPEN),
    (S.NEW, S.PENDING),
    (S.NEW, S.SOLVED),
    (S.OPEN, S.PENDING),
    (S.OPEN, S.SOLVED),
    (S.PENDING, S.OPEN),
    (S.PENDING, S.SOLVED),
    (S.SOLVED, S.OPEN),
    (S.SOLVED, S.CLOSED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_pair_of_statuses(current: TicketStatus, target: TicketStatus) -> None:
    if (current, target) in ALLOWED:
        assert can_transition(current, target)
        check_transition(current, target)
    else:
        assert not can_transition(current, target)
        with pytest.raises(IllegalTransition) as raised:
            check_transition(current, target)
        assert raised.value.state is current
        assert current.value in str(raised.value) and target.value in str(raised.value)


def test_the_contract_road_is_walkable_and_closed_is_final() -> None:
    road = [S.NEW, S.OPEN, S.PENDING, S.SOLVED, S.CLOSED]
    for current, target in itertools.pairwise(road):
        check_transition(current, target)
    assert not any(can_transition(S.CLOSED, target) for target in S)


def test_only_unfinished_tickets_are_active() -> None:
    assert {s for s in S if s.is_active} == {S.NEW, S.OPEN, S.PENDING}


def test_priorities_are_ordered() -> None:
    ordered = sorted(Priority, key=lambda p: p.rank)
    assert ordered == [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT]
    assert Priority.URGENT.at_least(Priority.HIGH)
    assert Priority.HIGH.at_least(Priority.HIGH)
    assert not Priority.NORMAL.at_least(Priority.HIGH)


NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
TICKET = Ticket(
    id=1,
    subject="s",
    body="b",
    status=S.OPEN,
    priority=Priority.NORMAL,
    customer_key="c-1",
    assignee_id=None,
    queue=None,
    conversation_id=None,
    channel=Channel.API,
    created_by=None,
    created_at=NOW,
    updated_at=NOW,
    sla=SlaState(),
)


def test_plan_lists_only_real_changes_in_a_fixed_order() -> None:
    patch = TicketPatch(
        frozenset({"queue", "status", "priority", "assignee_id"}),
        status=S.PENDING,
        priority=Priority.NORMAL,  # unchanged: dropped
        assignee_id="agt_1",
        queue="vip",
    )
    assert list(plan_update(TICKET, patch).items()) == [
        ("status", (S.OPEN, S.PENDING)),
        ("assignee_id", (None, "agt_1")),
        ("queue", (None, "vip")),
    ]


def test_null_unassigns_and_absent_keeps() -> None:
    assigned = replace(TICKET, assignee_id="agt_1", queue="vip")
    assert plan_update(assigned, TicketPatch(frozenset({"assignee_id"}))) == {
        "assignee_id": ("agt_1", None)
    }
    assert plan_update(assigned, TicketPatch(frozenset({"priority"}), priority=Priority.LOW)) == {
        "priority": (Priority.NORMAL, Priority.LOW)
    }


def test_repeating_the_current_status_is_no_change_not_an_error() -> None:
    assert plan_update(TICKET, TicketPatch(frozenset({"status"}), status=S.OPEN)) == {}


def test_illegal_status_move_raises() -> None:
    with pytest.raises(IllegalTransition):
        plan_update(TICKET, TicketPatch(frozenset({"status"}), status=S.NEW))


def test_a_closed_ticket_refuses_every_change() -> None:
    closed = replace(TICKET, status=S.CLOSED)
    with pytest.raises(IllegalTransition):
        plan_update(closed, TicketPatch(frozenset({"priority"}), priority=Priority.URGENT))
    # Asking for what it already is changes nothing, so nothing is refused.
    assert plan_update(closed, TicketPatch(frozenset({"status"}), status=S.CLOSED)) == {}


def test_patch_refuses_unknown_fields_and_null_status() -> None:
    with pytest.raises(ValueError, match="not patchable"):
        TicketPatch(frozenset({"subject"}))
    with pytest.raises(ValueError, match="status cannot be null"):
        TicketPatch(frozenset({"status"}))
