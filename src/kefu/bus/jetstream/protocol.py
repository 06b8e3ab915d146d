"""The wire side of kefu's JetStream use: subjects, headers and pure functions from
messages to values. No I/O here, so the parsing rules can be read (and tested) alone."""

from __future__ import annotations

import json

from nats.aio.msg import Msg

from kefu.domain.envelope import DEAD_LETTER_PREFIX, SUBJECT_PREFIX

EVENTS_SUBJECTS = SUBJECT_PREFIX + ">"
DEAD_LETTER_SUBJECTS = DEAD_LETTER_PREFIX + ">"

HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_STATUS = "Status"
HEADER_DESCRIPTION = "Description"
HEADER_REASON = "Kefu-Reason"
HEADER_EVENT_ID = "Kefu-Event-Id"
HEADER_ATTEMPTS = "Kefu-Attempts"
HEADER_ORIGINAL_SUBJECT = "Kefu-Original-Subject"
HEADER_ORIGINAL_SEQUENCE = "Kefu-Original-Sequence"
HEADER_TRUNCATED = "Kefu-Truncated-From"  # the original payload's length, when cut

# A header value is one line; a reason is for people, so it is cut rather than refused.
MAX_REASON_CHARS = 1000
ACK_V1_TOKENS = 9  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
# The err_code of JSStreamStoreFailedF, which a PubAck carries when a stream under
# DiscardPolicy.NEW is full ("maximum bytes exceeded", or messages).
STREAM_FULL = "10077 "


def header(msg: Msg, name: str) -> str | None:
    return (msg.headers or {}).get(name)


def one_line(text: str) -> str:
    """A header value: no line breaks (they would end the header), bounded length."""
    flat = " ".join(text.split())
    return flat[:MAX_REASON_CHARS]


def message_size(payload: bytes, headers: dict[str, str]) -> int:
    """What the server counts against max_payload: the header block plus the payload."""
    header_block = len("NATS/1.0\r\n\r\n") + sum(
        len(k) + len(v.encode()) + 4 for k, v in headers.items()
    )
    return header_block + len(payload)


def pub_ack_error(msg: Msg) -> str | None:
    """None for a PubAck (stored, or a duplicate already stored), else why not."""
    status = (msg.headers or {}).get(HEADER_STATUS)
    if status == "503":
        return "no JetStream stream answered (no responders)"
    if not msg.data:
        return f"empty reply (status {status})"
    if b'"error"' not in msg.data:  # a PubAck never says "error"; parse only failures
        return None
    try:
        error = json.loads(msg.data)["error"]
        return f"{error.get('err_code')} {error.get('description')} (status {error.get('code')})"
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"unreadable reply {msg.data[:200]!r}"


def deliveries(msg: Msg) -> int:
    """How many times JetStream has delivered ``msg``, from its ack subject
    (``$JS.ACK.<stream>.<consumer>.<delivered>.…``): nats-py's ``msg.metadata`` also
    builds sequence pairs and a datetime per message, ~4% of the consumer's CPU here. Any
    other subject form (with a domain) goes through ``metadata``."""
    tokens = (msg.reply or "").split(".")
    if len(tokens) == ACK_V1_TOKENS and tokens[0] == "$JS" and tokens[1] == "ACK":
        return int(tokens[4])
    return int(msg.metadata.num_delivered)
