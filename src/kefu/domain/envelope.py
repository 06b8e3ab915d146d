"""The event envelope, as CONTRACT.md puts it on the wire (REST body and NATS payload)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime
from typing import Any

import msgspec

SUBJECT_PREFIX = "kefu.events."
DEAD_LETTER_PREFIX = "kefu.deadletter."
# Dot-separated lowercase tokens: a NATS subject suffix with no wildcard or empty token.
TYPE_PATTERN = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+){0,7}$")
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
MAX_TYPE_CHARS = 150


class Event(msgspec.Struct, frozen=True, omit_defaults=True):
    """``{"id","type","customer_key"?,"data":{…},"occurred_at","source"?}``."""

    id: str
    type: str
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    customer_key: str | None = None
    occurred_at: str | None = None
    source: str | None = None

    @property
    def subject(self) -> str:
        return SUBJECT_PREFIX + self.type


class EventInvalid(ValueError):
    """An event that can never be processed (malformed): it is dead-lettered, not retried."""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)


def new_event_id() -> str:
    # Time-ordered prefix keeps ids roughly sortable in logs; the random tail makes them unique.
    return f"evt_{int(datetime.now(UTC).timestamp() * 1000):x}{secrets.token_hex(8)}"


def check_type(value: str) -> str:
    if len(value) > MAX_TYPE_CHARS or not TYPE_PATTERN.match(value):
        raise EventInvalid(
            f"event type {value[:60]!r} must be dot-separated lowercase tokens "
            "(letters, digits, _ and -), like customer.complaint"
        )
    return value


def check_id(value: str) -> str:
    if not ID_PATTERN.match(value):
        raise EventInvalid("event id must be 1 to 100 letters, digits or _ . : -")
    return value


def encode(event: Event) -> bytes:
    return _encoder.encode(event)


def decode(payload: bytes, subject: str | None = None) -> Event:
    """Parse and validate a payload; the subject (when given) must match its type.

    A system publishing straight to NATS may leave out ``type`` (the subject says it) and
    ``id`` (then the payload's hash is the id, so a redelivery is still recognised).
    """
    try:  # the common case, a complete event, decoded straight into its struct
        event = _decoder.decode(payload)
    except msgspec.DecodeError:
        pass  # incomplete or invalid: the general path below fills in or says why
    else:
        expected = subject[len(SUBJECT_PREFIX) :] if subject is not None else event.type
        if subject is None or (subject.startswith(SUBJECT_PREFIX) and event.type == expected):
            check_type(event.type)
            check_id(event.id)
            return event
    try:
        raw = msgspec.json.decode(payload)
    except msgspec.DecodeError as exc:
        raise EventInvalid(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise EventInvalid("an event is a JSON object")
    if subject is not None:
        if not subject.startswith(SUBJECT_PREFIX):
            raise EventInvalid(f"subject {subject!r} is not under {SUBJECT_PREFIX}")
        from_subject = subject[len(SUBJECT_PREFIX) :]
        raw.setdefault("type", from_subject)
        if raw["type"] != from_subject:
            raise EventInvalid(f"type {raw['type']!r} does not match subject {subject!r}")
    if "id" not in raw:
        raw["id"] = "sha_" + hashlib.blake2b(payload, digest_size=16).hexdigest()
    try:
        event = msgspec.convert(raw, Event)
    except msgspec.ValidationError as exc:
        raise EventInvalid(str(exc)) from None
    check_type(event.type)
    check_id(event.id)
    return event


def decode_trusted(payload: bytes) -> Event:
    """Decode an event kefu itself encoded (the outbox): no re-validation on the hot path."""
    return _decoder.decode(payload)
