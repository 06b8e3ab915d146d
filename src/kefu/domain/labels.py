"""Conversation labels (``billing``, ``refund``, ``vip-escalation``): how teams sort and
later count their chats. Pure rules: what a label may look like and how a set is kept."""

from __future__ import annotations

import re
from collections.abc import Iterable

from kefu.errors import BadInput

MAX_LABELS = 20  # per conversation: a label set is a summary, not a transcript
MAX_LABEL_CHARS = 50
LABEL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


def normalise(labels: Iterable[str]) -> list[str]:
    """Trimmed, lower-cased, deduplicated and sorted; BadInput naming the first bad one.

    Lower case so that "Refund" and "refund" are one label in every list and count."""
    seen: set[str] = set()
    for raw in labels:
        label = raw.strip().lower()
        if not LABEL.match(label):
            shown = raw[:MAX_LABEL_CHARS]
            raise BadInput(
                f"label {shown!r} must be 1-{MAX_LABEL_CHARS} letters, digits, - or _, "
                "starting with a letter or digit",
                code="invalid_label",
            )
        seen.add(label)
    if len(seen) > MAX_LABELS:
        raise BadInput(f"at most {MAX_LABELS} labels per conversation", code="too_many_labels")
    return sorted(seen)
