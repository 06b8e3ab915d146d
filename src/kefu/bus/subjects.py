"""NATS subject matching, shared by every bus adapter so patterns mean the same everywhere."""

from __future__ import annotations


def subject_matches(pattern: str, subject: str) -> bool:
    """``*`` matches one token, ``>`` one or more trailing tokens (NATS rules)."""
    pattern_tokens = pattern.split(".")
    subject_tokens = subject.split(".")
    for index, token in enumerate(pattern_tokens):
        if token == ">":  # noqa: S105 - a NATS wildcard, not a password
            return len(subject_tokens) > index
        if index >= len(subject_tokens):
            return False
        if token not in ("*", subject_tokens[index]):
            return False
    return len(pattern_tokens) == len(subject_tokens)


def valid_pattern(pattern: str) -> bool:
    tokens = pattern.split(".")
    if any(not token for token in tokens):
        return False
    return all(">" not in t or (t == ">" and i == len(tokens) - 1) for i, t in enumerate(tokens))
