"""``texts_match``: the visitor check of a search walk (kefu.store.search_walk) decides a
name and email as the PostgreSQL visitor index does: every phrase within one text."""

from __future__ import annotations

from kefu.domain.search_text import parse_query, texts_match


def test_every_phrase_must_lie_within_one_text() -> None:
    name, email = "王小明", "ming@example.cn"
    assert texts_match(parse_query("小明"), name, email)
    assert texts_match(parse_query("example.cn 王小明"), name, email)  # one in each
    assert texts_match(parse_query("exam"), name, email)  # a word's beginning
    assert not texts_match(parse_query("小明 nobody"), name, email)
    # A phrase never runs from the name into the email.
    assert not texts_match(parse_query("bob.wong"), "Bob", "wong@example.org")
    assert texts_match(parse_query("bob.wong"), "Bob Wong", None)


def test_no_text_matches_nothing() -> None:
    assert not texts_match(parse_query("小明"), None, None)
    assert not texts_match(parse_query("小明"), "", "")
