"""The baseline of the ``events_*`` scenarios: what a Python user would otherwise write.

Celery on Redis (broker only: no result backend, ``ignore_result``) runs the same rule as
kefu (``customer.complaint`` -> a high-priority ticket "Complaint: {data.summary}") in a
task ``handle_event(payload)``: decode the JSON event, evaluate the rule, and in ONE
transaction (SQLAlchemy Core, synchronous) insert the event's id into ``processed_events``
(``ON CONFLICT DO NOTHING``: an id seen before changes nothing) and the ticket row into
kefu's own ``tickets`` table (the store is created with kefu's migrations first). That is
the guarantee kefu gives (an event's effect applied once, however often it arrives), so
the task is acknowledged late (``acks_late``: after the effect is stored, as kefu acks a
batch) and a redelivery is harmless.

What it does NOT do that kefu does per ticket: the SLA due dates, the ``ticket_history``
row, and the ``ticket.created`` event in the outbox (which kefu's rules consumer then
reads). Those favour the baseline; the scenario's notes say so.

The worker runs as ``celery -A bench.celery_baseline worker`` with the environment:
``BENCH_CELERY_BROKER`` (a Redis URL with a database of its own, purged per run) and
``BENCH_CELERY_STORE`` (``sqlite:///PATH`` or ``postgresql://…``, as kefu's ``store``).
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from celery import Celery
from celery.signals import worker_process_init
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

DEFAULT_BROKER = "redis://127.0.0.1:6379/5"
CONSUMER = "celery"
# The same rule as kefu's (bench.events.RULE), as a Celery user would write it.
RULE = {"name": "complaint", "on": "customer.complaint", "subject": "Complaint: {summary}"}

app = Celery("kefu_bench", broker=os.environ.get("BENCH_CELERY_BROKER", DEFAULT_BROKER))
app.conf.update(
    task_ignore_result=True,
    result_backend=None,
    task_serializer="json",
    accept_content=["json"],
    # Acknowledged after the effect is stored, as kefu acknowledges a batch: a worker
    # killed mid-task leaves the message to be delivered again (and deduplicated).
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    worker_send_task_events=False,
)

_tables = sa.MetaData()
tickets = sa.Table(
    "tickets",
    _tables,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("subject", sa.String(300)),
    sa.Column("body", sa.Text),
    sa.Column("status", sa.String(20)),
    sa.Column("priority", sa.String(10)),
    sa.Column("customer_key", sa.String(200)),
    sa.Column("channel", sa.String(20)),
    sa.Column("created_by", sa.String(60)),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)
processed_events = sa.Table(
    "processed_events",
    _tables,
    sa.Column("consumer", sa.String(40), primary_key=True),
    sa.Column("event_id", sa.String(100), primary_key=True),
    sa.Column("processed_at", sa.DateTime(timezone=True)),
)

_engine: Engine | None = None
_engine_lock = threading.Lock()


def sync_url(url: str) -> str:
    """kefu's store URL for a synchronous engine (sqlite3, psycopg 3)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # kefu's own SQLite settings (kefu.store.database): WAL, synchronous=NORMAL, and a
    # busy timeout so the worker processes take turns at the single writer lock.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def engine() -> Engine:
    """One engine per worker process (made after the fork), shared by its threads."""
    global _engine
    with _engine_lock:
        if _engine is None:
            url = sync_url(os.environ["BENCH_CELERY_STORE"])
            if url.startswith("sqlite"):
                _engine = sa.create_engine(url, pool_size=8, max_overflow=0)
                event.listen(_engine, "connect", _sqlite_pragmas)
            else:
                _engine = sa.create_engine(url, pool_size=8, max_overflow=0)
        return _engine


@worker_process_init.connect
def _fresh_engine(**_kwargs: Any) -> None:
    global _engine
    _engine = None  # never share a connection pool across fork


def _insert(table: sa.Table, dialect: str) -> Any:
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


def apply_rule(event_type: str, data: dict[str, Any]) -> str | None:
    """The ticket subject the rule makes for this event, or None when it does not match."""
    if event_type != RULE["on"]:
        return None
    return RULE["subject"].format(summary=data.get("summary", ""))[:300]


@app.task(name="handle_event", ignore_result=True)
def handle_event(payload: str) -> None:
    event_in = json.loads(payload)
    subject = apply_rule(event_in["type"], event_in.get("data", {}))
    now = datetime.now(UTC)
    db = engine()
    with db.begin() as conn:
        seen = conn.execute(
            _insert(processed_events, db.dialect.name)
            .values(consumer=CONSUMER, event_id=event_in["id"], processed_at=now)
            .on_conflict_do_nothing()
        )
        if seen.rowcount == 0:
            return  # processed before: its ticket exists already
        if subject is None:
            return
        conn.execute(
            tickets.insert().values(
                subject=subject,
                body=subject,
                status="new",
                priority="high",
                customer_key=event_in.get("customer_key"),
                channel="rule",
                created_by=f"rule:{RULE['name']}",
                created_at=now,
                updated_at=now,
            )
        )
