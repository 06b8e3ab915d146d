"""The label rules: one spelling per label, clear refusals."""

from __future__ import annotations

import pytest

from kefu.domain.labels import MAX_LABELS, normalise
from kefu.errors import BadInput


def test_labels_are_trimmed_lowered_deduplicated_and_sorted() -> None:
    assert normalise([" Refund", "billing", "refund ", "VIP-escalation"]) == [
        "billing",
        "refund",
        "vip-escalation",
    ]
    assert normalise([]) == []


@pytest.mark.parametrize(
    "bad", ["", " ", "-refund", "has space", "ünïcode", "a" * 51, "semi;colon", "<b>"]
)
def test_a_bad_label_is_refused_by_name(bad: str) -> None:
    with pytest.raises(BadInput) as caught:
        normalise(["fine", bad])
    assert caught.value.code == "invalid_label"


def test_too_many_labels_are_refused() -> None:
    normalise([f"l{i}" for i in range(MAX_LABELS)])
    with pytest.raises(BadInput) as caught:
        normalise([f"l{i}" for i in range(MAX_LABELS + 1)])
    assert caught.value.code == "too_many_labels"
