"""The refund saga's steps as plain synchronous HTTP calls to the bench's department
systems (``bench.saga_sims``), for the engines measured beside kefu: the Celery chain
(``bench.celery_sagas``) and DBOS (``bench/dbos_probe.py``, run in a venv of its own,
so this module needs only httpx and the standard library).

Each call sends the idempotency key kefu would send (``<saga>:<step>:do|undo``); a
compensation names the key of the action it undoes. ``Refused``: the department said no
for good (4xx, SOAP Client fault); ``Transient``: an outage (5xx, connection refused,
timeout) worth another try. The last step, the engine's own record, is not here: each
engine writes it in its own store.
"""

from __future__ import annotations

import threading
from typing import Any
from xml.sax.saxutils import escape

import httpx

NS = "urn:kefu-demo:callcenter"
DEPARTMENT_STEPS = ("refund_order", "take_back_points", "log_call_note")


class Refused(Exception):
    """The department said no for good: compensate, do not retry."""


class Transient(Exception):
    """An outage (5xx, connection refused, timeout): try again."""


_local = threading.local()


def _http() -> httpx.Client:
    client = getattr(_local, "http", None)
    if client is None:
        client = _local.http = httpx.Client(timeout=5.0)
    return client


def _post(url: str, key: str, *, json_body: Any = None, xml: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key}
    try:
        if xml is not None:
            headers["Content-Type"] = "text/xml; charset=utf-8"
            answer = _http().post(url, content=xml.encode(), headers=headers)
        else:
            answer = _http().post(url, json=json_body, headers=headers)
    except httpx.HTTPError as exc:
        raise Transient(type(exc).__name__) from exc
    if answer.status_code >= 500:
        raise Transient(f"{answer.status_code}")
    if answer.status_code >= 400:
        raise Refused(f"{answer.status_code}")
    return answer


def _soap(operation: str, fields: dict[str, str]) -> str:
    inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<{operation} xmlns="{NS}">{inner}</{operation}></soap:Body></soap:Envelope>'
    )


def do_step(urls: dict[str, str], step: str, saga: str, data: dict[str, Any]) -> None:
    """One department step's action (``refund_order``, ``take_back_points``, ``log_call_note``)."""
    key = f"{saga}:{step}:do"
    if step == "refund_order":
        _post(f"{urls['orders']}/api/orders/{data['order_id']}/refund", key,
              json_body={"amount": data["amount"]})  # fmt: skip
    elif step == "take_back_points":
        _post(f"{urls['crm']}/api/customers/{data['customer_id']}/points/take-back", key,
              json_body={"amount": data["amount"]})  # fmt: skip
    elif step == "log_call_note":
        fields = {"CustomerRef": data["customer_id"], "Text": data["note"], "IdempotencyKey": key}
        _post(f"{urls['callcenter']}/soap/Notes", key, xml=_soap("AddNote", fields))
    else:
        raise ValueError(f"not a department step: {step}")


def undo_step(urls: dict[str, str], step: str, saga: str, data: dict[str, Any]) -> None:
    """The compensation of one department step (a no-op answer if it never applied)."""
    do_key, key = f"{saga}:{step}:do", f"{saga}:{step}:undo"
    if step == "refund_order":
        _post(f"{urls['orders']}/api/orders/{data['order_id']}/refund/cancel", key,
              json_body={"refund_key": do_key})  # fmt: skip
    elif step == "take_back_points":
        _post(f"{urls['crm']}/api/customers/{data['customer_id']}/points/give-back", key,
              json_body={"take_back_key": do_key})  # fmt: skip
    elif step == "log_call_note":
        fields = {"AddNoteKey": do_key, "IdempotencyKey": key}
        _post(f"{urls['callcenter']}/soap/Notes", key, xml=_soap("RemoveNote", fields))
    else:
        raise ValueError(f"not a department step: {step}")
