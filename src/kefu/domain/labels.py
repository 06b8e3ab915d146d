"""Conversation labels (``billing``, ``refund``, ``vip-escalation``, ``退款``): how teams
sort and later count their chats. Pure rules: what a label may look like and how a set is kept."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from kefu.errors import BadInput

MAX_LABELS = 20  # per conversation: a label set is a summary, not a transcript
MAX_LABEL_CHARS = 50
# Letters and digits of any script (Chinese teams label in Chinese), "-" and "_".
LABEL = re.compile(r"^[^\W_][\w-]{0,49}$")


def clean(raw: str) -> str:
    """One spelling per label: NFKC folds the full-width letters and digits a Chinese input
    method types (U+FF36 U+FF29 U+FF30 for "VIP") into ASCII, full-width spaces are trimmed
    like others; lower case."""
    return unicodedata.normalize("NFKC", raw).strip().lower()


def normalise(labels: Iterable[str]) -> list[str]:
    """Trimmed, lower-cased, deduplicated and sorted; BadInput naming the first bad one.

    Lower case so that "Refund" and "refund" are one label in every list and count."""
    seen: set[str] = set()
    for raw in labels:
        label = clean(raw)
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
