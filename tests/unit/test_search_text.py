"""The search terms (kefu.domain.search_text): a Chinese substring of two or more
characters is found exactly when it is in the text, checked against a real SQLite FTS5
table built as the store builds it; queries never carry store syntax."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kefu.domain.search_text import (
    MAX_WORD,
    QueryError,
    _any_terms,
    document,
    encode,
    fts5_document,
    fts5_match,
    parse_query,
    terms,
    text_matches,
    tsquery_literal,
    tsvector_literal,
)

HAN = "订单没有到退款发票我的你好"
texts = st.text(alphabet=HAN + " ,\uff0cab", min_size=1, max_size=30)


def fts_finds(text: str, query: str) -> bool:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(doc, tokenize='ascii', columnsize=0)")
    conn.execute("INSERT INTO t (rowid, doc) VALUES (1, ?)", (document(text),))
    found = conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts5_match(parse_query(query)),))
    return bool(found.fetchall())


@settings(max_examples=300, deadline=None)
@given(text=texts, data=st.data())
def test_every_chinese_substring_of_two_or_more_is_found(text: str, data: st.DataObject) -> None:
    runs = [run for run in "".join(c if c in HAN else " " for c in text).split() if len(run) > 1]
    if not runs:
        return
    run = data.draw(st.sampled_from(runs))
    start = data.draw(st.integers(0, len(run) - 2))
    end = data.draw(st.integers(start + 2, len(run)))
    assert fts_finds(text, run[start:end])


@settings(max_examples=300, deadline=None)
@given(text=texts, query=st.text(alphabet=HAN, min_size=2, max_size=4))
def test_a_chinese_query_is_found_only_where_it_is(text: str, query: str) -> None:
    assert fts_finds(text, query) == (query in text)


def test_terms_are_words_and_bigrams() -> None:
    assert terms("iPhone15手机 我的订单\uff01 Alice.Wong@Example.com") == [
        "iphone15",
        "手机",
        "机",
        "我的",
        "的订",
        "订单",
        "单",
        "alice",
        "wong",
        "example",
        "com",
    ]
    assert terms("\uff21\uff11") == ["a1"]  # full-width letters and digits


def test_words_match_from_their_beginning_and_across_punctuation() -> None:
    assert fts_finds("Please REFUND me", "refun")
    assert not fts_finds("Please REFUND me", "fund")
    assert fts_finds("alice.wong@example.com", "wong@exam")
    assert fts_finds("单号 SF1234567 已发出", "sf1234567")
    assert fts_finds("订单abc", "订单abc")


@pytest.mark.parametrize("query", ["", " ", "a", "订", "!!", "*", '"', "x" * 201])
def test_unsearchable_queries_are_refused(query: str) -> None:
    with pytest.raises(QueryError):
        parse_query(query)


@pytest.mark.parametrize(
    "query", ['订单" OR "a', "订单) OR (a", "doc : 订单", "订单 & !x", "'订单':*", "NEAR(a b)"]
)
def test_store_syntax_is_only_text(query: str) -> None:
    phrases = parse_query(query)
    for term in (t for p in phrases for t in p.terms):
        assert term.isalnum()  # no quote, bracket, colon or operator survives
    fts_finds("订单 a x doc near", query)  # a real FTS5 parses it (raises if it cannot)


def test_tsvector_positions_make_phrases() -> None:
    assert tsvector_literal("订单没", "Ann") == "'订单':1 '单没':2 '没':3 'ann':5"
    assert tsquery_literal(parse_query("订单没 ann")) == "('订单' <-> '单没') & ('ann':*)"
    assert fts5_match(parse_query("订单没 ann")) == '"订单 单没" AND "ann"*'


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=HAN + " ,.@abc", min_size=1, max_size=30), data=st.data())
def test_the_walks_python_check_agrees_with_the_index(text: str, data: st.DataObject) -> None:
    """text_matches (SQLite's per-conversation check) decides as FTS5 does."""
    query = data.draw(st.text(alphabet=HAN + " abc", min_size=2, max_size=6))
    try:
        phrases = parse_query(query)
    except QueryError:
        return
    assert text_matches(text, encode(phrases)) == fts_finds(text, query)


def test_a_long_word_is_indexed_and_found_by_its_beginning() -> None:
    """PostgreSQL refuses lexemes over 2,047 bytes: a 4,000-letter word (seen in a chat
    test) must not fail the message's commit."""
    word = "啊" + "x" * 4000
    assert max(len(t.encode()) for t in terms(word)) <= 256
    assert fts_finds(f"see {word} here", "x" * 199)  # a query past the bound: its beginning
    assert fts_finds(f"see {word} here", "x" * 150)


@settings(max_examples=500, deadline=None)
@given(
    text=st.text(alphabet=st.characters(max_codepoint=127), max_size=200)
    | st.text(alphabet="aZ9_ -.,", min_size=MAX_WORD - 2, max_size=3 * MAX_WORD)
)
@example("Long" * 20 + " x_y Z9" + " word" * 20)
def test_ascii_texts_get_the_terms_of_the_general_path(text: str) -> None:
    """``terms`` answers ASCII text without NFKC and the Unicode pattern: same terms."""
    assert terms(text) == _any_terms(text)
    assert terms(text + "订单") == _any_terms(text + "订单")  # the general path itself


def test_one_text_literal_is_the_general_one() -> None:
    """The one-text fast path (a chat message) writes what the general loop writes."""
    long = " ".join(f"w{n}" for n in range(20_000))  # past MAX_TERMS: cut like any text
    full_width = "\uff26\uff55\uff4c\uff4c 42"  # NFKC: "Full 42"
    for text in ("", "!!", "Hello, my order 12345", "我的订单没到 refund", full_width, long):
        assert tsvector_literal(text) == tsvector_literal(text, None)
    assert tsvector_literal("a b") == "'a':1 'b':2"


def _fts5_tokens(doc: str) -> list[tuple[str, int]]:
    """What a real FTS5 table shaped like message_search indexes of ``doc``: each term
    with its position."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(doc, tokenize='ascii', columnsize=0)")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    conn.execute("INSERT INTO t (rowid, doc) VALUES (1, ?)", (doc,))
    return sorted(conn.execute("SELECT term, offset FROM v").fetchall(), key=lambda r: r[1])


# Pieces, some a whole MAX_WORD long, so words past the cut come up.
ascii_texts = st.lists(
    st.sampled_from([*"aZ09_- .,!?@#'\"\t\n:/Ok", "x" * MAX_WORD]), max_size=60
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=ascii_texts | texts)
@example(text="a" * (MAX_WORD + 1) + " next")
@example(text="Hello, my ORDER #12345_b isn't here!")
@example(text="?!")
def test_fts5_indexes_the_same_tokens_from_either_document(text: str) -> None:
    """ASCII text goes to FTS5 as it is (its ascii tokenizer makes the terms in C): the
    index must hold exactly the tokens and positions that ``document`` gives it."""
    assert _fts5_tokens(fts5_document(text)) == _fts5_tokens(document(text))
    assert (fts5_document(text) == "") == (document(text) == "")
