"""Where a ticket stands against its SLA at one instant: what an agent's screen shows.

The stored SLA columns (``SlaState``) say what the targets are and what happened; this
module reads them at ``now`` into one verdict, so every client shows the same thing the
SLA watcher acts on instead of re-deriving the rules (which target runs, the paused
resolution clock, a breach that stands through a pause, warning and breach stamps that
belong to the first response, business time).

- An active ticket (new, open, pending) is judged on its running target: the first
  response until it is given, then the resolution. ``ok``, ``warning`` (from
  ``warning_at``), ``breached`` (at ``due_at``, or once a breach at or after the due time
  was announced), or ``paused`` while pending stops the resolution clock (``breached``
  with ``paused`` set when it was already past due when the pause began).
- A solved or closed ticket: ``met`` when every target was met, ``missed`` otherwise.
- ``none`` when no target applies.

``warning_at`` and ``due_at`` are instants, so a client can move its badge from ok to
warning to breached as its own clock passes them, without knowing any rule; the server
judges again with every answer and live frame.

Pure: no I/O, no framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kefu.domain.sla import SlaRules
from kefu.domain.tickets import SlaState, SlaTarget, TicketStatus

# The console has always turned a target amber an hour before it is due, whatever the
# policy's own warning announcement says: an hour is enough to pick the ticket up. The
# earlier of the two wins, so a policy that warns two hours ahead shows amber then.
ON_SCREEN_NOTICE = timedelta(hours=1)


class SlaVerdict(StrEnum):
    NONE = "none"
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"
    PAUSED = "paused"
    MET = "met"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class SlaStatus:
    """The verdict at ``as_of``. ``target``/``due_at`` name the running target (None when
    there is none); ``remaining_minutes`` counts to ``due_at`` as the policy counts
    (business minutes for a business-hours policy), up to the pause while paused, and is
    None once past due or without a running target."""

    state: SlaVerdict
    as_of: datetime
    target: SlaTarget | None = None
    due_at: datetime | None = None
    warning_at: datetime | None = None
    remaining_minutes: float | None = None
    paused: bool = False


def sla_status(status: TicketStatus, sla: SlaState, rules: SlaRules, now: datetime) -> SlaStatus:
    """Judge ``sla`` for a ticket in ``status`` at ``now``."""
    if not status.is_active:
        return _finished(sla, now)
    first = sla.first_responded_at is None and sla.first_response_due_at is not None
    due = sla.first_response_due_at if first else sla.resolution_due_at
    if due is None:
        return SlaStatus(SlaVerdict.NONE, now)
    target = SlaTarget.FIRST_RESPONSE if first else SlaTarget.RESOLUTION
    mode = rules.mode_of(sla.policy)
    if not first and sla.paused_at is not None:
        # Pending: the resolution clock waits on the customer (the first response never does).
        if sla.paused_at >= due:
            return SlaStatus(SlaVerdict.BREACHED, now, target, due, paused=True)
        left = mode.between(sla.paused_at, due)
        return SlaStatus(SlaVerdict.PAUSED, now, target, due, None, _minutes(left), paused=True)
    # The stamps name the latest announcement; one made before the first response belongs
    # to that target, not to the resolution's.
    since = None if first else sla.first_responded_at

    def stamped(stamp: datetime | None) -> bool:
        return stamp is not None and (since is None or stamp >= since)

    if now >= due or (
        stamped(sla.breached_at) and sla.breached_at is not None and sla.breached_at >= due
    ):
        return SlaStatus(SlaVerdict.BREACHED, now, target, due)
    warning_at = min(rules.warning_at(sla.policy, due), due - ON_SCREEN_NOTICE)
    warned = now >= warning_at or stamped(sla.warned_at)
    verdict = SlaVerdict.WARNING if warned else SlaVerdict.OK
    return SlaStatus(verdict, now, target, due, warning_at, _minutes(mode.between(now, due)))


def _finished(sla: SlaState, now: datetime) -> SlaStatus:
    """Solved or closed: were the targets met? A target is missed when its moment came
    after it was due, or never came (closed unanswered), or a breach was announced."""
    if sla.first_response_due_at is None and sla.resolution_due_at is None:
        return SlaStatus(SlaVerdict.NONE, now)

    def late(done: datetime | None, due: datetime | None) -> bool:
        return due is not None and (done is None or done > due)

    missed = (
        sla.breached_at is not None
        or late(sla.first_responded_at, sla.first_response_due_at)
        or late(sla.solved_at, sla.resolution_due_at)
    )
    return SlaStatus(SlaVerdict.MISSED if missed else SlaVerdict.MET, now)


def _minutes(span: timedelta) -> float:
    return span.total_seconds() / 60
