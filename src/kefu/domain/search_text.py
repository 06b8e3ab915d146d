"""What the conversation search indexes and how a query matches it: pure, one definition
for both stores.

Why not the stores' own trigram tokenizers (measured in docs/operations.md, "Search"):
SQLite FTS5's ``trigram`` and PostgreSQL's ``pg_trgm`` need three characters, and two
Chinese characters (订单, 退款, a surname and a given name) are a whole word. So kefu
writes its own terms and lets each store index them as opaque tokens:

- a run of CJK characters becomes its overlapping bigrams (订单没到 -> 订单 单没 没到) and
  its last character alone (到), so any substring of two or more characters is a phrase
  of consecutive bigrams, and a single character is a prefix;
- anything else alphanumeric becomes a lowercased word (NFKC first, so full-width
  letters and digits are plain ones); punctuation and spaces separate terms and are not indexed.

A query is split on whitespace; every part must match (AND). Each part becomes a phrase
of its terms, the last one a prefix: ``refun`` finds "refunded", ``wong@exam`` finds
alice.wong@example.com, ``订单没`` finds 我的订单没到. Terms are alphanumeric by
construction, so the renderings below cannot carry store syntax.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

# Han (with extensions and compatibility ideographs), kana, Hangul syllables: scripts
# written without spaces between words.
_CJK = (
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
    "\U00020000-\U0002ebef\U00030000-\U0003134f"
)
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_RUNS = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")
_ASCII_WORDS = re.compile(r"[a-z0-9]+")
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")
# A query this short, or only punctuation, matches too much or nothing: refused.
MIN_QUERY_CHARS = 2
MAX_QUERY_CHARS = 200
# Characters kept of a word (a longer one is indexed and asked for by its beginning):
# PostgreSQL refuses a lexeme over 2,047 bytes, and nobody searches for a 4,000-letter
# word; 64 characters are at most 256 bytes of UTF-8.
MAX_WORD = 64
_LONG_WORD = re.compile(rf"[A-Za-z0-9]{{{MAX_WORD + 1}}}")
# Terms kept per indexed text: PostgreSQL positions stop at 16,383 and a message body is
# far below this anyway; the bound keeps one huge text from costing the write path.
MAX_TERMS = 16_000
# PostgreSQL's largest tsvector position: later terms all take this one.
MAX_POSITION = 16_383


@dataclass(frozen=True, slots=True)
class Phrase:
    """Consecutive terms that must appear in this order; a last term that is a word is a
    prefix (``refun`` finds refund). A last CJK term is exact: a bigram is already every
    substring there is, and a prefix search costs the stores a scan of every term that
    starts with it."""

    terms: tuple[str, ...]

    @property
    def prefix(self) -> bool:
        return not _CJK_CHAR.match(self.terms[-1])


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def terms(text: str) -> list[str]:
    """The index terms of ``text``, in order (their positions matter for phrases)."""
    if text.isascii():
        # Most chat lines: NFKC leaves ASCII alone and casefold is lower(), so the terms
        # are its lowercased letter-and-digit runs (the same as below, ~5x faster; every
        # message's terms are computed on the write path).
        found = _ASCII_WORDS.findall(text.lower())
        if len(found) > MAX_TERMS:
            del found[MAX_TERMS:]
        if found and len(max(found, key=len)) > MAX_WORD:
            found = [word[:MAX_WORD] for word in found]
        return found
    return _any_terms(text)


def _any_terms(text: str) -> list[str]:
    found: list[str] = []
    for cjk, word in _RUNS.findall(normalise(text)):
        if word:
            found.append(word[:MAX_WORD])
        else:
            found.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
            found.append(cjk[-1])
        if len(found) >= MAX_TERMS:
            return found[:MAX_TERMS]
    return found


def document(*texts: str | None) -> str:
    """The terms of ``texts`` as one space-separated document (what SQLite indexes)."""
    return " ".join(term for text in texts if text for term in terms(text))


def fts5_document(text: str) -> str:
    """``text`` as SQLite's FTS5 table (``tokenize='ascii'``) is given it: ASCII text as
    it is, anything else as ``document`` (empty: nothing to index).

    On ASCII text the ``ascii`` tokenizer makes exactly ``terms``: runs of ASCII letters
    and digits, lowercased, everything else a separator; so the index holds the same
    tokens at the same positions, tokenized in C. Storing a chat line cost ~189,000
    instructions with its terms computed in Python, ~168,000 this way (bench/README.md,
    "Search off the commit"). Not when a word is longer than ``MAX_WORD`` (the terms cut
    it) or the text could hold more than ``MAX_TERMS`` words."""
    if (
        text.isascii()
        and len(text) < 2 * MAX_TERMS
        and _ASCII_WORD.search(text) is not None
        and _LONG_WORD.search(text) is None
    ):
        return text
    return " ".join(terms(text)) if text else ""


def tsvector_literal(*texts: str | None) -> str:
    """The same terms as a PostgreSQL ``tsvector`` literal with positions, so that
    ``<->`` phrases match exactly what SQLite's phrases match (no parser, no stemming)."""
    if len(texts) == 1:
        # One text (a chat message: PostgreSQL's write path computes this on the event
        # loop for every message): positions are 1, 2, ... and a message body is far below
        # the 16,383 cap. Half the time of the general loop below.
        found = terms(texts[0]) if texts[0] else []
        if len(found) < MAX_POSITION:
            return " ".join([f"'{term}':{position}" for position, term in enumerate(found, 1)])
    position = 0
    parts: list[str] = []
    for text in texts:
        if not text:
            continue
        for term in terms(text):
            position = min(position + 1, MAX_POSITION)
            parts.append(f"'{term}':{position}")
        position += 1  # two texts never form a phrase across their boundary
    return " ".join(parts)


class QueryError(ValueError):
    """The query cannot be searched for; the message says why, in the user's terms."""


def parse_query(query: str) -> list[Phrase]:
    """The phrases a query asks for, all of which must match."""
    stripped = query.strip()
    if len(stripped) > MAX_QUERY_CHARS:
        raise QueryError(f"q is longer than {MAX_QUERY_CHARS} characters")
    phrases: list[Phrase] = []
    for part in stripped.split():
        found = _query_terms(part)
        if found:
            phrases.append(Phrase(tuple(found)))
    if sum(len("".join(p.terms)) for p in phrases) < MIN_QUERY_CHARS:
        raise QueryError(
            f"q needs at least {MIN_QUERY_CHARS} letters, digits or Chinese characters"
        )
    return phrases


def _query_terms(part: str) -> list[str]:
    """As :func:`terms`, except that a CJK run ending the part leaves out its last
    character alone: the text may go on (订单 must find 订单没到, whose terms hold 订单
    then 单没, not 订单 then 单)."""
    runs = _RUNS.findall(normalise(part))
    found: list[str] = []
    for index, (cjk, word) in enumerate(runs):
        if word:
            found.append(word[:MAX_WORD])
            continue
        found.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
        if len(cjk) == 1 or index < len(runs) - 1:
            found.append(cjk[-1])
    return found


def fts5_match(phrases: list[Phrase]) -> str:
    """An FTS5 MATCH expression over a table tokenised with ``ascii`` (which splits on the
    spaces :func:`document` writes and on nothing else in a term)."""
    return " AND ".join('"' + " ".join(p.terms) + '"' + ("*" if p.prefix else "") for p in phrases)


def tsquery_literal(phrases: list[Phrase]) -> str:
    """The same as a ``tsquery`` literal, cast with ``::tsquery`` (no parser)."""
    rendered = []
    for phrase in phrases:
        quoted = [f"'{term}'" for term in phrase.terms]
        if phrase.prefix:
            quoted[-1] += ":*"
        rendered.append("(" + " <-> ".join(quoted) + ")")
    return " & ".join(rendered)


def encode(phrases: list[Phrase]) -> str:
    """The phrases as one string, for :func:`text_matches` called from SQL."""
    return "\n".join(" ".join(p.terms) for p in phrases)


@functools.lru_cache(maxsize=64)
def _decoded(encoded: str) -> tuple[Phrase, ...]:
    return tuple(Phrase(tuple(line.split(" "))) for line in encoded.split("\n") if line)


def text_matches(text: str | None, encoded: str) -> bool:
    """Whether ``text`` holds every phrase, exactly as the indexes decide it: SQLite
    calls this (as ``kefu_search_match``) to check one conversation's messages when a
    search walks conversations (kefu.store.conversation_search)."""
    if not text:
        return False
    found = terms(text)
    return all(_holds(found, phrase) for phrase in _decoded(encoded))


def texts_match(phrases: tuple[Phrase, ...] | list[Phrase], *texts: str | None) -> bool:
    """Whether every phrase lies within one of ``texts`` (a visitor's name, email): as
    :func:`tsvector_literal` indexes them, a phrase never spans two texts."""
    found = [terms(text) for text in texts if text]
    return all(any(_holds(each, phrase) for each in found) for phrase in phrases)


def _holds(found: list[str], phrase: Phrase) -> bool:
    *head, last = phrase.terms
    width = len(phrase.terms)
    for start in range(len(found) - width + 1):
        if found[start : start + width - 1] == head:
            candidate = found[start + width - 1]
            if candidate == last or (phrase.prefix and candidate.startswith(last)):
                return True
    return False
