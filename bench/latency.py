"""Open-loop latency probes: every message's latency counts from when it was *due*.

The load generator schedules message ``i`` of a step at ``t0 + i / rate``. Measuring from
that intended time, not from when the send call happened, keeps the figure honest when the
server (or the generator) falls behind: a stall shows up as latency for every message it
delayed, instead of silently lowering the offered rate (coordinated omission).

A message carries its sequence number as ``@@SEQ@@`` in its body, so receivers find it with
two ``str.find`` calls and no JSON parsing on the hot path.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

MARK = "@@"
# Padding that brings a kefu ``message.send`` frame to ~110 bytes, a typical chat line.
_PAD = "x" * 48


def body_for(seq: int) -> str:
    """Message body carrying ``seq``; ~70 bytes, so the whole frame is ~110."""
    return f"{MARK}{seq}{MARK} {_PAD}"


def client_msg_id_for(seq: int) -> str:
    """A client message id carrying ``seq``, so an ack can be matched without parsing JSON."""
    return f"m{MARK}{seq}{MARK}"


def message_send_frame(seq: int) -> str:
    """A kefu ``message.send`` frame (~110 bytes) carrying ``seq`` in id and body.

    The raw relays and kefu get the same bytes, so frame costs compare like for like.
    """
    return (
        f'{{"type":"message.send","client_msg_id":"{client_msg_id_for(seq)}",'
        f'"body":"{body_for(seq)}"}}'
    )


_MARK_B = MARK.encode()
_SEND_FRAME_B = (
    b'{"type":"message.send","client_msg_id":"m@@%d@@","body":"@@%d@@ ' + _PAD.encode() + b'"}'
)


def message_send_bytes(seq: int) -> bytes:
    """:func:`message_send_frame` as bytes, built in one ``%`` (the relay hot path)."""
    return _SEND_FRAME_B % (seq, seq)


def seq_in_bytes(data: bytes) -> int:
    """:func:`seq_in` on a frame's raw payload: no decoding on the hot path."""
    start = data.find(_MARK_B)
    if start < 0:
        return -1
    start += 2
    end = data.find(_MARK_B, start)
    if end < 0:
        return -1
    try:
        return int(data[start:end])
    except ValueError:
        return -1


def seq_in(text: str) -> int:
    """The sequence number inside ``text``, or -1 when it carries none."""
    start = text.find(MARK)
    if start < 0:
        return -1
    start += len(MARK)
    end = text.find(MARK, start)
    if end < 0:
        return -1
    try:
        return int(text[start:end])
    except ValueError:
        return -1


class Probe:
    """Records when each message of one step arrived, relative to when it was due."""

    def __init__(self, base_seq: int, count: int, rate: float, t0: float) -> None:
        self.base_seq = base_seq
        self.count = count
        self.rate = rate
        self.t0 = t0
        self._seen = bytearray(count)
        self.latencies: list[float] = []
        self.duplicates = 0
        self.strays = 0  # arrivals from an earlier step, or of unknown messages

    def due(self, seq: int) -> float:
        return self.t0 + (seq - self.base_seq) / self.rate

    def arrived(self, seq: int) -> None:
        index = seq - self.base_seq
        if not 0 <= index < self.count:
            self.strays += 1
            return
        if self._seen[index]:
            self.duplicates += 1
            return
        self._seen[index] = 1
        self.latencies.append(time.monotonic() - (self.t0 + index / self.rate))

    @property
    def received(self) -> int:
        return len(self.latencies)


@dataclass(frozen=True)
class LatencySummary:
    """Percentiles in ms; a lost message counts as infinitely late (reported as null)."""

    expected: int
    received: int
    lost: int
    duplicates: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _pct(sorted_s: list[float], total: int, q: float) -> float | None:
    """q-quantile over ``total`` messages of which only ``sorted_s`` arrived (nearest rank)."""
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    if rank > len(sorted_s):
        return None  # falls among the lost ones: unbounded
    return round(sorted_s[rank - 1] * 1000, 3)


def summarize(probe: Probe) -> LatencySummary:
    lat = sorted(probe.latencies)
    return LatencySummary(
        expected=probe.count,
        received=len(lat),
        lost=probe.count - len(lat),
        duplicates=probe.duplicates,
        p50_ms=_pct(lat, probe.count, 0.50),
        p90_ms=_pct(lat, probe.count, 0.90),
        p99_ms=_pct(lat, probe.count, 0.99),
        max_ms=round(lat[-1] * 1000, 3) if lat and len(lat) == probe.count else None,
    )
