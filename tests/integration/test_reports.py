"""``GET /api/v1/reports/summary`` on both stores: a known history, written with chosen
timestamps straight into the tables (the API cannot set past times), gives exactly the
figures worked out by hand below; a live chat over real sockets is counted the same way;
bad periods and roles are refused with the error shape; the partial index on agents'
messages is the one the query uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from kefu.domain.models import SenderKind
from kefu.domain.reports import Period
from kefu.domain.roles import Role
from kefu.store.reports import ReportRepository
from tests.support.kefu import Kefu
from tests.support.report_history import History

# The report's period below: 2 to 8 March 2026, whole UTC days (?to= is inclusive).
PERIOD = "/api/v1/reports/summary?from=2026-03-02&to=2026-03-08"
VISITOR = SenderKind.VISITOR
AGENT = SenderKind.AGENT
BOT = SenderKind.BOT
SYSTEM = SenderKind.SYSTEM


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


async def known_history(kefu: Kefu) -> dict[str, dict[str, Any]]:
    alice = await kefu.add_agent("Alice")
    bob = await kefu.add_agent("Bob")
    sue = await kefu.add_agent("Sue", Role.SUPERVISOR)
    dan = await kefu.add_agent("Dan")
    await kefu.node.repos.agents.update(dan["id"], disabled=True)
    a, b, d = alice["id"], bob["id"], dan["id"]
    h = History(kefu)
    # 1: the bot greets and Alice writes a note first; her reply 30 s in is the answer.
    await h.conversation(
        at(2, 10),
        status="closed",
        assignee=a,
        closed=at(2, 10, 20),
        rating=5,
        said=((1, BOT, None, False), (5, AGENT, a, True), (30, AGENT, a, False)),
    )
    # 2: a system message does not answer; Bob does at 90 s, Alice too at 100 s.
    await h.conversation(
        at(3, 9),
        status="closed",
        assignee=b,
        closed=at(4, 9),
        rating=3,
        said=((2, SYSTEM, None, False), (90, AGENT, b, False), (100, AGENT, a, False)),
    )
    # 3
    await h.conversation(
        at(3, 12),
        status="closed",
        assignee=a,
        closed=at(3, 12, 30),
        rating=4,
        said=((60, AGENT, a, False),),
    )
    # 4: still waiting, only the bot spoke.
    await h.conversation(at(5, 8), status="waiting", said=((1, BOT, None, False),))
    # 5: only a note so far: no answer.
    await h.conversation(at(6, 15), status="assigned", assignee=a, said=((10, AGENT, a, True),))
    # 6: opened before the period, closed in it; Bob's message falls in it too.
    await h.conversation(
        at(1, 23),
        status="closed",
        assignee=b,
        closed=at(2, 1),
        said=((3610, AGENT, b, False),),
    )
    # 7: opened in the period's last second, answered after it ends (31 s).
    await h.conversation(
        at(8, 23, 59, 59), status="assigned", assignee=a, said=((31, AGENT, a, False),)
    )
    # 8: opened exactly when the period ends: not in it.
    await h.conversation(at(9, 0), status="assigned", assignee=b, said=((5, AGENT, b, False),))
    # 9: closed by a supervisor from the queue, nobody assigned, rated 1.
    await h.conversation(at(7, 10), status="closed", closed=at(7, 10, 5), rating=1)
    # 10: Dan, disabled since: in the totals, not in the agents' table.
    await h.conversation(
        at(4, 10),
        status="closed",
        assignee=d,
        closed=at(4, 11),
        rating=5,
        said=((20, AGENT, d, False),),
    )
    # 11: rated, but closed before the period.
    await h.conversation(
        at(20, 10, month=2), status="closed", assignee=a, closed=at(20, 11, month=2), rating=5
    )

    # Tickets.
    await h.ticket(  # solved, resolution late
        at(2, 9),
        "solved",
        first_response_due_at=at(2, 13),
        first_responded_at=at(2, 10),
        resolution_due_at=at(3, 9),
        solved_at=at(4, 9),
    )
    await h.ticket(  # first response late, resolution due after the period
        at(3, 9),
        "open",
        first_response_due_at=at(3, 10),
        first_responded_at=at(3, 11),
        resolution_due_at=at(10, 9),
    )
    await h.ticket(  # neither answered nor solved: both missed
        at(4, 9), "open", first_response_due_at=at(4, 10), resolution_due_at=at(5, 9)
    )
    await h.ticket(  # solved before the first response was due: nothing missed
        at(5, 9),
        "closed",
        first_response_due_at=at(5, 10),
        resolution_due_at=at(6, 9),
        solved_at=at(5, 9, 30),
    )
    await h.ticket(  # pending before the resolution fell due: its clock stopped in time
        at(5, 9),
        "pending",
        first_response_due_at=at(5, 10),
        first_responded_at=at(5, 9, 10),
        resolution_due_at=at(7, 9),
        sla_paused_at=at(6, 9),
    )
    await h.ticket(  # pending only after the resolution fell due: missed
        at(5, 9),
        "pending",
        first_response_due_at=at(5, 10),
        first_responded_at=at(5, 9, 10),
        resolution_due_at=at(6, 9),
        sla_paused_at=at(6, 12),
    )
    await h.ticket(  # created before, first response missed in the period, solved in it
        at(25, 9, month=2),
        "solved",
        first_response_due_at=at(2, 8),
        resolution_due_at=at(20, 9),
        solved_at=at(2, 9),
    )
    await h.ticket(  # created before, resolution missed in the period
        at(1, 9),
        "open",
        first_response_due_at=at(1, 10),
        first_responded_at=at(1, 9, 30),
        resolution_due_at=at(8, 9),
    )
    await h.ticket(at(9, 0), "new", first_response_due_at=at(9, 4))  # after the period
    return {"alice": alice, "bob": bob, "sue": sue, "dan": dan}


async def test_every_figure_of_a_known_history(kefu: Kefu) -> None:
    who = await known_history(kefu)
    status, report = await kefu.get(PERIOD, who["sue"]["token"])
    assert status == 200, report

    assert report["period"] == {
        "from": "2026-03-02T00:00:00Z",
        "to": "2026-03-09T00:00:00Z",
        "days": 7,
    }
    assert report["conversations"] == {
        "opened": 8,
        "closed": 6,
        "waiting_now": 1,
        "per_day": [
            {"date": "2026-03-02", "opened": 1, "closed": 2},
            {"date": "2026-03-03", "opened": 2, "closed": 1},
            {"date": "2026-03-04", "opened": 1, "closed": 2},
            {"date": "2026-03-05", "opened": 1, "closed": 0},
            {"date": "2026-03-06", "opened": 1, "closed": 0},
            {"date": "2026-03-07", "opened": 1, "closed": 1},
            {"date": "2026-03-08", "opened": 1, "closed": 0},
        ],
    }
    # Answered 20 (Dan), 30, 31, 60 (Alice), 90 (Bob): median 31, p90 60 + 0.6 * 30.
    assert report["first_response"] == {
        "answered": 5,
        "unanswered": 3,
        "median_seconds": 31.0,
        "p90_seconds": 78.0,
    }
    # 300, 1200, 1800, 3600, 7200, 86400: median (1800 + 3600) / 2, p90 7200 + 0.5 * 79200.
    assert report["resolution"] == {
        "count": 6,
        "median_seconds": 2700.0,
        "p90_seconds": 46800.0,
    }
    # 5, 3, 4, 1, 5: three of five are 4 or 5.
    assert report["satisfaction"] == {"ratings": 5, "average": 3.6, "csat_percent": 60.0}
    assert report["tickets"] == {
        "created": 6,
        "solved": 3,
        "first_response_breaches": 3,
        "resolution_breaches": 4,
    }
    assert report["agents"] == [
        {
            "id": who["alice"]["id"],
            "name": "Alice",
            "conversations_closed": 2,
            "messages_sent": 3,
            "first_responses": 3,
            "first_response_median_seconds": 31.0,
            "ratings": 2,
            "rating_average": 4.5,
            "csat_percent": 100.0,
        },
        {
            "id": who["bob"]["id"],
            "name": "Bob",
            "conversations_closed": 2,
            "messages_sent": 2,
            "first_responses": 1,
            "first_response_median_seconds": 90.0,
            "ratings": 1,
            "rating_average": 3.0,
            "csat_percent": 0.0,
        },
        {
            "id": who["sue"]["id"],
            "name": "Sue",
            "conversations_closed": 0,
            "messages_sent": 0,
            "first_responses": 0,
            "first_response_median_seconds": None,
            "ratings": 0,
            "rating_average": None,
            "csat_percent": None,
        },
    ]

    # Date-times work as bounds too, ``to`` exclusive: the same period, the same report.
    same = "/api/v1/reports/summary?from=2026-03-02T00:00:00Z&to=2026-03-09T01:00:00%2B01:00"
    status, again = await kefu.get(same, who["sue"]["token"])
    assert status == 200
    assert {k: v for k, v in again.items() if k != "generated_at"} == {
        k: v for k, v in report.items() if k != "generated_at"
    }
    # An admin may read it too.
    boss = await kefu.add_agent("Ada", Role.ADMIN)
    status, _ = await kefu.get(PERIOD, boss["token"])
    assert status == 200


async def test_a_live_chat_in_the_default_period(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Alice")
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    agent_ws = await kefu.ws(agent["token"])
    visitor = await kefu.visitor(name="Vera")
    visitor_ws = await kefu.ws(visitor["token"])
    ack = await visitor_ws.send_message("Where is my parcel?")
    conversation_id = ack["conversation_id"]
    await agent_ws.expect("conversation.assigned", conversation_id=conversation_id)
    await agent_ws.send(
        {
            "type": "message.send",
            "client_msg_id": "note-1",
            "conversation_id": conversation_id,
            "body": "Check the courier first",
            "internal": True,
        }
    )
    await agent_ws.expect("message.ack", client_msg_id="note-1")
    reply = await agent_ws.send_message("On its way.", conversation_id=conversation_id)
    status, _ = await kefu.post(f"/api/v1/conversations/{conversation_id}/close", agent["token"])
    assert status == 200
    status, _ = await kefu.post(
        f"/api/v1/conversations/{conversation_id}/rating", visitor["token"], {"score": 4}
    )
    assert status == 201
    status, page = await kefu.get(
        f"/api/v1/conversations/{conversation_id}/messages", agent["token"]
    )
    sent = {m["id"]: datetime.fromisoformat(m["created_at"]) for m in page["items"]}
    waited = (sent[reply["message_id"]] - sent[ack["message_id"]]).total_seconds()

    status, report = await kefu.get("/api/v1/reports/summary", boss["token"])
    assert status == 200, report
    today = datetime.now(UTC).date()
    assert report["period"]["days"] == 7
    assert report["period"]["to"] == f"{today + timedelta(days=1)}T00:00:00Z"
    days = report["conversations"]["per_day"]
    assert [d["date"] for d in days] == [str(today - timedelta(days=n)) for n in range(6, -1, -1)]
    assert days[-1] == {"date": str(today), "opened": 1, "closed": 1}
    assert report["conversations"]["opened"] == report["conversations"]["closed"] == 1
    assert report["first_response"]["answered"] == 1
    assert report["first_response"]["median_seconds"] == round(waited, 3)
    assert report["satisfaction"] == {"ratings": 1, "average": 4.0, "csat_percent": 100.0}
    mine = next(row for row in report["agents"] if row["id"] == agent["id"])
    # The note and the "Conversation closed." system message are not the agent's messages.
    assert (mine["messages_sent"], mine["conversations_closed"], mine["ratings"]) == (1, 1, 1)
    await agent_ws.close()
    await visitor_ws.close()


async def test_bad_periods_and_roles_are_refused(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    agent = await kefu.add_agent("Alice")
    visitor = await kefu.visitor()
    base = "/api/v1/reports/summary"
    refused = [
        (f"{base}?from=2026-03-09&to=2026-03-02", "invalid_period"),
        (f"{base}?from=2026-03-02T10:00:00Z&to=2026-03-02T10:00:00Z", "invalid_period"),
        (f"{base}?from=2026-01-01&to=2026-04-03", "period_too_long"),  # 92 days and one
        (f"{base}?from=yesterday", "invalid_date"),
        (f"{base}?from=2026-02-30", "invalid_date"),
        (f"{base}?to=", "invalid_date"),
        (f"{base}?to=0001-01-01", "invalid_period"),
        (f"{base}?from={'2' * 41}", "invalid_date"),
    ]
    for path, code in refused:
        status, body = await kefu.get(path, boss["token"])
        assert (status, body["error"]["code"]) == (400, code), path
        assert body["error"]["message"]
    status, body = await kefu.get(f"{base}?from=2026-01-01&to=2026-04-02", boss["token"])
    assert status == 200 and body["period"]["days"] == 92
    status, body = await kefu.get(base, agent["token"])
    assert (status, body["error"]["code"]) == (403, "insufficient_role")
    status, body = await kefu.get(base, visitor["token"])
    assert (status, body["error"]["code"]) == (403, "agents_only")
    async with kefu.http.get(kefu.url(base)) as resp:
        assert resp.status == 401


async def test_agents_messages_are_counted_through_the_partial_index(kefu: Kefu) -> None:
    """The query spells the partial index's predicate as a literal, so both planners take
    the index (PostgreSQL told to avoid a sequential scan, as on a large table)."""
    db = kefu.node.repos.db
    period = Period(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
    prefix = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "

    def explain(*args: Any) -> tuple[str, Any]:
        statement, parameters = args[2], args[3]
        return prefix + statement, parameters

    async with db.connect() as conn:
        if db.dialect == "postgresql":
            await conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        event.listen(conn.sync_connection, "before_cursor_execute", explain, retval=True)
        try:
            result = await conn.execute(ReportRepository.messages_query(period))
            plan = " ".join(str(row) for row in result.cursor.fetchall())
        finally:
            event.remove(conn.sync_connection, "before_cursor_execute", explain)
    assert "ix_messages_agent_created_at" in plan, plan
