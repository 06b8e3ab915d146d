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
    "bad",
    [
        "",
        " ",
        "-refund",
        "has space",
        "a" * 51,
        "semi;colon",
        "<b>",
        "退款 加急",
        "退款\uff0c加急",
        "_x",
    ],
)
def test_a_bad_label_is_refused_by_name(bad: str) -> None:
    with pytest.raises(BadInput) as caught:
        normalise(["fine", bad])
    assert caught.value.code == "invalid_label"


def test_chinese_and_full_width_labels_have_one_spelling() -> None:
    """Teams in China label in Chinese; the full-width forms a pinyin IME types (letters,
    digits, the ideographic space) are the ASCII label they look like."""
    full_width_vip = "\u3000\uff36\uff29\uff30\u3000"
    assert normalise(["退款", full_width_vip, "vip", "加急-\uff11\uff12", "ünïcode"]) == sorted(
        ["退款", "vip", "加急-12", "ünïcode"]
    )


def test_too_many_labels_are_refused() -> None:
    normalise([f"l{i}" for i in range(MAX_LABELS)])
    with pytest.raises(BadInput) as caught:
        normalise([f"l{i}" for i in range(MAX_LABELS + 1)])
    assert caught.value.code == "too_many_labels"
