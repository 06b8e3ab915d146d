"""The new part of a reply: what the customer wrote above kefu's marker line, without
the quoted mail most clients append below an "On … wrote:" line."""

from __future__ import annotations

import re

from kefu.email.compose import MARKER

# "On Mon, 7 Dec 2026 at 10:00, Support <help@…> wrote:" and the Chinese clients' form.
_ATTRIBUTION = re.compile(r"(wrote|写道|寫道)\s*[:\uff1a]\s*$", re.IGNORECASE)


def new_text(text: str) -> str:
    lines = text.splitlines()
    for at, line in enumerate(lines):
        if MARKER in line:
            lines = lines[:at]
            break
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith(">")):
        lines.pop()
    if lines and _ATTRIBUTION.search(lines[-1]):
        lines.pop()
    kept = "\n".join(lines).strip()
    return kept or text.strip()
