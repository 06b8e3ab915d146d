"""The baseline of the ``sagas`` scenario: the refund saga as a Python team would write it
with Celery: a chain of four tasks, each with an error callback that compensates the
steps done before it.

``chain(refund_order, take_back_points, log_call_note, comment_ticket)`` on Redis
(broker; no result backend: errbacks are sent as tasks of their own). Each step calls the
department system over HTTP with the same ``Idempotency-Key`` as kefu sends
(``<saga>:<step>:do``), so a redelivered step is applied once. A definite "no" (4xx, SOAP
Client fault) raises ``Refused``: the chain stops and the step's errback
``compensate(task_id, saga, done)`` undoes the ``done`` earlier steps in reverse; a 503
or a refused connection is retried (``self.retry``, capped exponential backoff, 5 tries),
a compensation too. ``acks_late`` + ``reject_on_worker_lost``: a killed worker's tasks
are delivered again (after Redis's visibility timeout) rather than lost.

The saga's outcome is what the last task records, as such an application would: the
final step writes the comment row (its own SQLite database, ``BENCH_SAGA_DB``) and sets
``completed`` in a Redis hash; ``compensate`` sets ``compensated`` (or ``failed`` when a
compensation runs out of tries). A saga with no outcome after the drain is stuck.

Worker: ``celery -A bench.celery_sagas worker`` with ``BENCH_CELERY_BROKER``,
``BENCH_SAGA_DB``, ``BENCH_SAGA_URLS`` (JSON: orders, crm, callcenter base URLs).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from typing import Any

import redis
from celery import Celery, Task, chain

from bench import saga_http
from bench.saga_http import DEPARTMENT_STEPS, Transient

DEFAULT_BROKER = "redis://127.0.0.1:6379/6"
OUTCOME_KEY = "bench:saga:outcome"
FINISHED_KEY = "bench:saga:finished"
VISIBILITY_TIMEOUT_S = 30
TRIES = 5

app = Celery("kefu_bench_sagas", broker=os.environ.get("BENCH_CELERY_BROKER", DEFAULT_BROKER))
app.conf.update(
    task_ignore_result=True,
    result_backend=None,
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # Unacknowledged messages of a dead worker come back after this long (Redis's
    # default is an hour, swept every ~100 s): 30 s, swept every 5 s, gives the baseline
    # its best chance inside the drain.
    broker_transport_options={
        "visibility_timeout": VISIBILITY_TIMEOUT_S,
        "unacked_restore_interval": 5,
        "unacked_restore_throttle": 1,
    },
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    worker_send_task_events=False,
)


_local = threading.local()


def _urls() -> dict[str, str]:
    return dict(json.loads(os.environ["BENCH_SAGA_URLS"]))


def _redis() -> redis.Redis:
    client = getattr(_local, "redis", None)
    if client is None:
        client = _local.redis = redis.Redis.from_url(
            os.environ.get("BENCH_CELERY_BROKER", DEFAULT_BROKER)
        )
    return client


def do_step(step: str, saga: str, data: dict[str, Any]) -> None:
    if step in DEPARTMENT_STEPS:
        saga_http.do_step(_urls(), step, saga, data)
        return
    # The application's own record of the refund, then the saga's outcome.
    with sqlite3.connect(os.environ["BENCH_SAGA_DB"], timeout=30) as db:
        db.execute("INSERT OR IGNORE INTO comments (saga, body) VALUES (?, ?)",
                   (saga, f"Refunded order {data['order_id']}"))  # fmt: skip
    _finish(saga, "completed")


def _finish(saga: str, outcome: str) -> None:
    pipe = _redis().pipeline()
    pipe.hset(OUTCOME_KEY, saga, outcome)
    pipe.hset(FINISHED_KEY, saga, repr(time.time()))
    pipe.execute()


def _backoff(task: Task) -> float:
    return float(min(2.0, 0.2 * 2**task.request.retries))


@app.task(bind=True, name="saga_step", max_retries=TRIES - 1, ignore_result=True)
def saga_step(self: Task, step: str, saga: str, data: dict[str, Any]) -> None:
    try:
        do_step(step, saga, data)
    except Transient as exc:
        raise self.retry(exc=exc, countdown=_backoff(self)) from exc


@app.task(bind=True, name="compensate", max_retries=TRIES - 1, ignore_result=True)
def compensate(self: Task, failed_task_id: str, saga: str, data: dict[str, Any], done: int) -> None:
    """Errback of the step at position ``done``: undo steps ``done-1 .. 0``."""
    del failed_task_id
    from bench.saga_plan import STEPS

    try:
        for step in reversed(STEPS[:done]):
            if step in DEPARTMENT_STEPS:
                saga_http.undo_step(_urls(), step, saga, data)
    except Exception as exc:
        if self.request.retries >= TRIES - 1:
            _finish(saga, "failed")
            raise
        raise self.retry(exc=exc, countdown=_backoff(self)) from exc
    _finish(saga, "compensated")


def refund_chain(saga: str, data: dict[str, Any]) -> Any:
    """The saga as a chain, each step with the errback that compensates what preceded it."""
    from bench.saga_plan import STEPS

    return chain(
        saga_step.si(step, saga, data).on_error(compensate.s(saga, data, position))
        for position, step in enumerate(STEPS)
    )


def prepare_db(path: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS comments (saga TEXT PRIMARY KEY, body TEXT)")
