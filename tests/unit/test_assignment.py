"""Least-loaded assignment with capacity and a FIFO waiting queue."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kefu.domain.assignment import Assignment, AssignmentBoard


def test_nobody_online_queues_the_conversation() -> None:
    board = AssignmentBoard()
    assert board.request("c1") is None
    assert board.queue_length == 1


def test_least_loaded_agent_gets_the_next_conversation() -> None:
    board = AssignmentBoard()
    board.agent_online("a", capacity=5)
    board.agent_online("b", capacity=5)
    first = board.request("c1")
    second = board.request("c2")
    assert first is not None and second is not None
    assert {first.agent_id, second.agent_id} == {"a", "b"}
    assert board.load_of("a") == board.load_of("b") == 1


def test_ties_go_to_the_agent_idle_longest() -> None:
    board = AssignmentBoard()
    board.agent_online("a", capacity=5)
    board.agent_online("b", capacity=5)
    board.request("c1")
    board.request("c2")
    board.release("a")
    board.release("b")
    third = board.request("c3")
    fourth = board.request("c4")
    assert third is not None and fourth is not None
    assert third.agent_id != fourth.agent_id


def test_full_agents_make_conversations_wait_then_drain_in_order() -> None:
    board = AssignmentBoard()
    board.agent_online("a", capacity=1)
    assert board.request("c1") == Assignment("c1", "a")
    assert board.request("c2") is None
    assert board.request("c3") is None
    assert board.release("a") == [Assignment("c2", "a")]
    assert board.waiting() == ["c3"]


def test_an_agent_coming_online_takes_waiting_conversations_up_to_capacity() -> None:
    board = AssignmentBoard()
    for conversation in ("c1", "c2", "c3"):
        board.request(conversation)
    given_out = board.agent_online("a", capacity=2)
    assert given_out == [Assignment("c1", "a"), Assignment("c2", "a")]
    assert board.waiting() == ["c3"]


def test_offline_agents_get_nothing_and_withdraw_removes_from_queue() -> None:
    board = AssignmentBoard()
    board.agent_online("a", capacity=3)
    board.agent_offline("a")
    assert board.request("c1") is None
    board.withdraw("c1")
    assert board.queue_length == 0
    assert not board.anyone_online()


def test_raising_capacity_drains_the_queue() -> None:
    board = AssignmentBoard()
    board.agent_online("a", capacity=1)
    board.request("c1")
    board.request("c2")
    assert board.set_capacity("a", 2) == [Assignment("c2", "a")]


@given(
    capacities=st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=5),
    operations=st.lists(st.sampled_from(["open", "close"]), max_size=60),
)
def test_no_agent_ever_exceeds_capacity(capacities: list[int], operations: list[str]) -> None:
    board = AssignmentBoard()
    for index, capacity in enumerate(capacities):
        board.agent_online(f"a{index}", capacity)
    owners: list[str] = []
    counter = 0
    for operation in operations:
        if operation == "open":
            counter += 1
            got = board.request(f"c{counter}")
            if got is not None:
                owners.append(got.agent_id)
        elif owners:
            for assignment in board.release(owners.pop(0)):
                owners.append(assignment.agent_id)
        for index, capacity in enumerate(capacities):
            assert 0 <= board.load_of(f"a{index}") <= capacity
        assert board.queue_length == 0 or all(
            board.load_of(f"a{i}") == c for i, c in enumerate(capacities)
        )


def test_vip_conversations_are_served_before_earlier_standard_ones() -> None:
    board = AssignmentBoard()
    assert board.request("c1") is None
    assert board.request("c2") is None
    board.enqueue("v1", vip=True)
    assert board.request("c3") is None
    board.promote("c3")  # its customer turned out to be a VIP
    board.promote("c2")
    assert board.waiting() == ["v1", "c3", "c2", "c1"]
    board.withdraw("c3")
    assert board.queue_length == 3
    given = board.agent_online("a", capacity=2)
    assert [g.conversation_id for g in given] == ["v1", "c2"]
    assert board.waiting() == ["c1"]
