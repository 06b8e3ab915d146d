"""Keyword auto-replies: the first rule whose keyword appears in the message answers it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AutoReplyRule:
    keywords: tuple[str, ...]
    reply: str


def match_auto_reply(body: str, rules: Sequence[AutoReplyRule]) -> str | None:
    """Case-insensitive substring match; order of ``rules`` is priority."""
    text = body.casefold()
    for rule in rules:
        if any(keyword.casefold() in text for keyword in rule.keywords if keyword):
            return rule.reply
    return None
