"""The resolution clock pauses while a ticket is pending (kefu.domain.sla): due dates move
out by the time paused, counted as the policy counts; nothing about the resolution is
announced while paused; a breach before the pause stands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from kefu.domain.sla import BusinessHours, SlaPolicy, SlaRules
from kefu.domain.tickets import Priority, SlaAlarm, SlaState, SlaTarget, TicketStatus

HOURS = BusinessHours.of()  # Mon-Fri 09:00-18:00 UTC
POLICY = SlaPolicy(
    "default",
    first_response_minutes={"urgent": 30, "normal": 240},
    resolution_minutes={"urgent": 240, "normal": 1440},
    warn_before_minutes=30,
)
ALWAYS = SlaPolicy("24x7", {"normal": 60}, {"normal": 120}, business_hours=False)
RULES = SlaRules(HOURS, {"default": POLICY, "24x7": ALWAYS}, "default")
PENDING = (TicketStatus.OPEN, TicketStatus.PENDING)
REOPENED = (TicketStatus.PENDING, TicketStatus.OPEN)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


MONDAY = utc(2025, 3, 10, 9)  # the business opens


def fresh(policy: str = "default", created: datetime = MONDAY) -> SlaState:
    targets = RULES.targets(policy, Priority.NORMAL, created)
    return SlaState(policy, targets.first_response_due_at, targets.resolution_due_at)


def test_a_business_hours_pause_moves_the_resolution_out_by_the_business_time_paused() -> None:
    sla = fresh()
    assert sla.resolution_due_at == utc(2025, 3, 12, 15)  # 24 business hours: 9 + 9 + 6
    paused = RULES.after_change(sla, MONDAY, utc(2025, 3, 10, 10), status=PENDING)
    assert paused.paused_at == utc(2025, 3, 10, 10)
    assert paused.resolution_due_at == sla.resolution_due_at  # unchanged until it resumes
    # Pending from Monday 10:00 to Tuesday 11:00: 8 + 2 = 10 business hours.
    resumed = RULES.after_change(paused, MONDAY, utc(2025, 3, 11, 11), status=REOPENED)
    assert resumed.paused_at is None
    assert resumed.paused_minutes == 600
    assert resumed.resolution_due_at == utc(2025, 3, 13, 16)  # Wed 15:00 + 10 h: Thu 16:00
    assert resumed.first_response_due_at == sla.first_response_due_at  # never paused


def test_a_weekend_spent_pending_costs_only_its_business_minutes() -> None:
    sla = fresh(created=utc(2025, 3, 13, 9))  # Thursday: due Monday 15:00
    assert sla.resolution_due_at == utc(2025, 3, 17, 15)
    paused = RULES.pause(sla, utc(2025, 3, 14, 17))
    resumed = RULES.resume(paused, utc(2025, 3, 17, 10))  # Fri 17-18 and Mon 9-10: two hours
    assert resumed.paused_minutes == 120
    assert resumed.resolution_due_at == utc(2025, 3, 17, 17)


def test_a_wall_time_policy_counts_every_minute_paused() -> None:
    created = utc(2025, 3, 8, 17)  # a Saturday: wall time does not care
    sla = fresh("24x7", created)
    assert sla.resolution_due_at == utc(2025, 3, 8, 19)
    paused = RULES.pause(sla, utc(2025, 3, 8, 17, 30))
    resumed = RULES.resume(paused, utc(2025, 3, 9, 18, 30))  # 25 hours later
    assert resumed.paused_minutes == 25 * 60
    assert resumed.resolution_due_at == utc(2025, 3, 9, 20)


def test_a_ticket_breached_before_it_went_pending_stays_breached() -> None:
    sla = replace(
        fresh("24x7", MONDAY), warned_at=utc(2025, 3, 10, 10, 30), breached_at=utc(2025, 3, 10, 11)
    )
    paused = RULES.pause(sla, utc(2025, 3, 10, 12))  # due 11:00, pending from 12:00
    resumed = RULES.resume(paused, utc(2025, 3, 12, 9))
    assert resumed.resolution_due_at == utc(2025, 3, 10, 11)
    assert resumed.paused_minutes == 0 and resumed.paused_at is None
    # Still owed nothing more (the breach was announced), and no second breach either.
    assert RULES.alarms(TicketStatus.OPEN, resumed, utc(2025, 3, 12, 9)) == []


def test_nothing_about_the_resolution_is_announced_while_paused() -> None:
    sla = RULES.pause(fresh("24x7", MONDAY), utc(2025, 3, 10, 9, 5))
    late = utc(2025, 3, 20, 9)  # long past both targets
    owed = RULES.alarms(TicketStatus.PENDING, sla, late)
    # The first response is not paused: still warned and breached.
    assert [(a.kind, a.target) for a in owed] == [
        (SlaAlarm.WARNING, SlaTarget.FIRST_RESPONSE),
        (SlaAlarm.BREACH, SlaTarget.FIRST_RESPONSE),
    ]
    answered = replace(sla, first_responded_at=utc(2025, 3, 10, 9, 10))
    assert RULES.alarms(TicketStatus.PENDING, answered, late) == []
    # Resumed: the target moved out by the pause, and is owed from its new time on.
    resumed = RULES.resume(answered, utc(2025, 3, 10, 12, 5))  # three hours paused
    assert resumed.resolution_due_at == utc(2025, 3, 10, 14)
    assert RULES.alarms(TicketStatus.OPEN, resumed, utc(2025, 3, 10, 13, 29)) == []
    owed = RULES.alarms(TicketStatus.OPEN, resumed, utc(2025, 3, 10, 14))
    assert [(a.kind, a.target) for a in owed] == [
        (SlaAlarm.WARNING, SlaTarget.RESOLUTION),
        (SlaAlarm.BREACH, SlaTarget.RESOLUTION),
    ]


def test_a_priority_change_recomputes_with_the_pauses_kept() -> None:
    sla = RULES.resume(RULES.pause(fresh(), utc(2025, 3, 10, 10)), utc(2025, 3, 11, 11))
    urgent = RULES.after_change(sla, MONDAY, utc(2025, 3, 11, 12), priority=Priority.URGENT)
    # Four business hours from Monday 09:00, plus the ten paused: Tuesday 14:00.
    assert urgent.resolution_due_at == HOURS.add(MONDAY, 240 + 600)
    assert urgent.resolution_due_at == utc(2025, 3, 11, 14)
    assert urgent.first_response_due_at == utc(2025, 3, 10, 9, 30)
    assert urgent.paused_minutes == 600


def test_solving_a_pending_ticket_ends_the_pause_and_stamps_solved() -> None:
    paused = RULES.pause(fresh("24x7", MONDAY), utc(2025, 3, 10, 9, 30))
    solved_at = utc(2025, 3, 10, 12)
    solved = RULES.after_change(
        paused, MONDAY, solved_at, status=(TicketStatus.PENDING, TicketStatus.SOLVED)
    )
    assert solved.paused_at is None and solved.solved_at == solved_at
    assert solved.resolution_due_at == utc(2025, 3, 10, 13, 30)  # 11:00 + 2.5 h paused
    # Met: solved before the moved target, though after the original one.
    assert solved.solved_at <= solved.resolution_due_at
    closed = RULES.after_change(
        solved, MONDAY, utc(2025, 3, 11, 9), status=(TicketStatus.SOLVED, TicketStatus.CLOSED)
    )
    assert closed == solved  # closing keeps the record as it was
    reopened = RULES.after_change(
        solved, MONDAY, utc(2025, 3, 11, 9), status=(TicketStatus.SOLVED, TicketStatus.OPEN)
    )
    assert reopened.solved_at is None


def test_pausing_twice_keeps_the_first_start_and_resuming_a_running_clock_does_nothing() -> None:
    sla = fresh()
    once = RULES.pause(sla, utc(2025, 3, 10, 10))
    assert RULES.pause(once, utc(2025, 3, 10, 11)) == once
    assert RULES.resume(sla, utc(2025, 3, 10, 11)) == sla


def test_a_ticket_without_a_resolution_target_just_pauses_and_resumes() -> None:
    none = SlaState("default")
    resumed = RULES.resume(RULES.pause(none, MONDAY), utc(2025, 3, 11, 9))
    assert resumed == none


# ---- properties ------------------------------------------------------------------------

moments = st.datetimes(datetime(2025, 1, 1), datetime(2026, 6, 30), timezones=st.just(UTC))
policies = st.sampled_from(["default", "24x7"])


@settings(max_examples=300, deadline=None)
@given(policies, moments, st.integers(0, 20_000), st.integers(0, 20_000))
def test_a_pause_never_brings_the_due_date_earlier(
    policy: str, created: datetime, start_after: int, length: int
) -> None:
    sla = fresh(policy, created)
    start = created + timedelta(minutes=start_after)
    resumed = RULES.resume(RULES.pause(sla, start), start + timedelta(minutes=length))
    assert sla.resolution_due_at is not None and resumed.resolution_due_at is not None
    assert resumed.resolution_due_at >= sla.resolution_due_at
    assert resumed.paused_minutes >= 0
    mode = RULES.mode_of(policy)
    if start < sla.resolution_due_at:
        # The target is the policy's minutes of counted time from creation, plus the pause.
        counted = mode.between(created, resumed.resolution_due_at).total_seconds() / 60
        expected = 1440 if policy == "default" else 120
        assert abs(counted - expected - resumed.paused_minutes) < 1e-6
    else:  # past due when paused: the breach stands
        assert resumed.resolution_due_at == sla.resolution_due_at


@settings(max_examples=200, deadline=None)
@given(policies, moments, st.integers(0, 20_000))
def test_pausing_for_no_time_changes_nothing(policy: str, created: datetime, after: int) -> None:
    sla = fresh(policy, created)
    moment = created + timedelta(minutes=after)
    assert RULES.resume(RULES.pause(sla, moment), moment) == sla


@settings(max_examples=200, deadline=None)
@given(moments, st.lists(st.integers(0, 3_000), min_size=2, max_size=8))
def test_several_pauses_add_up(created: datetime, steps: list[int]) -> None:
    """Pausing and resuming in turns moves the target by the sum of the pauses."""
    sla = fresh("default", created)
    moment = created
    total = 0.0
    for index, step in enumerate(steps):
        moment += timedelta(minutes=step)
        if index % 2 == 0:
            sla = RULES.pause(sla, moment)
        else:
            before = sla
            sla = RULES.resume(sla, moment)
            total += sla.paused_minutes - before.paused_minutes
    sla = RULES.resume(sla, moment)  # end on a running clock
    assert sla.paused_at is None
    assert abs(sla.paused_minutes - total) < 1e-6
    base = RULES.targets("default", Priority.NORMAL, created, sla.paused_minutes)
    assert sla.resolution_due_at is not None and base.resolution_due_at is not None
    assert abs((sla.resolution_due_at - base.resolution_due_at).total_seconds()) < 1e-3
