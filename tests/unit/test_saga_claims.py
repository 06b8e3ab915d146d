"""Sagas are built (issue 14): the README and the package docstring name them as working,
and no sentence naming them still calls them planned or not built."""

from __future__ import annotations

import re
from pathlib import Path

import kefu

ROOT = Path(__file__).resolve().parents[2]


def sentences_naming_sagas(text: str) -> list[str]:
    flat = " ".join(text.split())
    return [s for s in re.split(r"(?<=[.!?])\s+", flat) if "saga" in s.lower()]


def test_the_readme_and_the_package_docstring_no_longer_call_sagas_planned() -> None:
    for where, text in (("README.md", (ROOT / "README.md").read_text()), ("kefu", kefu.__doc__)):
        named = sentences_naming_sagas(text or "")
        assert named, f"{where} no longer names sagas"
        for sentence in named:
            stale = "planned" in sentence or "not built" in sentence
            assert not stale, f"{where} still calls sagas unbuilt: {sentence!r}"
