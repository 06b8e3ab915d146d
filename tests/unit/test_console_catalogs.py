"""The console's message catalogs (issue 16): src/kefu/web/console/locales/en.js and zh-CN.js.

- Every key is in both languages, with the same ``{placeholders}``; plurals are
  ``{one, other}`` in English and at least ``{other}`` in Chinese, in both or neither.
- Keys are ``area.thing_name`` and live in their area's ``// == area ==`` section.
- Chinese strings use full-width punctuation after Chinese text; English ones hold no Chinese.
- A scan fails when a console module or index.html shows user-facing literal text outside the
  catalogs. index.html regions not converted yet would be listed in ``HTML_NOT_YET_CONVERTED``
  (empty: every region is converted; a converted region must come off the list).

The catalogs are read as text, one entry per line (``"key": "value",`` or
``"key": { one: "...", other: "..." },``): the format the engineers adding keys keep.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

CONSOLE = Path(__file__).resolve().parents[2] / "src" / "kefu" / "web" / "console"
LOCALES = CONSOLE / "locales"
AREAS = [
    "common",
    "inbox",
    "chat",
    "details",
    "tickets",
    "c360",
    "sagas",
    "reports",
    "admin",
    "notifications",
    "errors",
]

Value = str | dict[str, str]
SECTION = re.compile(r"^\s*// == (\w[\w-]*) ==\s*$")
ENTRY = re.compile(r'^\s*"([^"\\]+)":\s*(.+?),\s*$')
BARE_NAME = re.compile(r"([{,]\s*)([A-Za-z_]\w*)(\s*:)")
KEY = re.compile(r"^[a-z0-9]+\.[a-z0-9_]+(\.[a-z0-9_]+)*$")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def read_catalog(name: str) -> tuple[dict[str, Value], dict[str, str]]:
    """The entries of ``locales/<name>.js`` and the section each key sits in."""
    entries: dict[str, Value] = {}
    sections: dict[str, str] = {}
    section = ""
    lines = (LOCALES / f"{name}.js").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        header = SECTION.match(line)
        if header:
            section = header.group(1)
            continue
        if not stripped or stripped.startswith("//") or stripped in ("export default {", "};"):
            continue
        entry = ENTRY.match(line)
        assert entry, f'{name}.js:{number}: not one `"key": value,` entry: {stripped[:80]}'
        key, raw = entry.groups()
        try:
            value = json.loads(BARE_NAME.sub(r'\1"\2"\3', raw) if raw.startswith("{") else raw)
        except json.JSONDecodeError as exc:
            raise AssertionError(
                f"{name}.js:{number}: value is not a string or plural: {raw}"
            ) from exc
        assert key not in entries, f"{name}.js:{number}: {key} twice"
        entries[key] = value
        sections[key] = section
    return entries, sections


EN, EN_SECTIONS = read_catalog("en")
ZH, ZH_SECTIONS = read_catalog("zh-CN")


def texts(value: Value) -> list[str]:
    return list(value.values()) if isinstance(value, dict) else [value]


def placeholders(value: Value) -> set[str]:
    return {name for text in texts(value) for name in PLACEHOLDER.findall(text)}


def test_both_languages_have_the_same_keys() -> None:
    assert sorted(set(EN) - set(ZH)) == [], "in en.js, missing in zh-CN.js"
    assert sorted(set(ZH) - set(EN)) == [], "in zh-CN.js, missing in en.js"
    assert len(EN) > 300  # the whole console, not an empty file that trivially agrees


def test_placeholders_match() -> None:
    wrong = {key: (placeholders(EN[key]), placeholders(ZH[key])) for key in EN if key in ZH}
    assert {k: v for k, v in wrong.items() if v[0] != v[1]} == {}


def test_plurals_have_their_forms_in_both_languages() -> None:
    for key, value in EN.items():
        other = ZH.get(key)
        assert isinstance(value, dict) == isinstance(other, dict), f"{key}: plural in one only"
        if isinstance(value, dict) and isinstance(other, dict):
            assert set(value) == {"one", "other"}, f"en {key}: needs one and other"
            assert "other" in other and set(other) <= {"other", "one"}, f"zh-CN {key}"
            assert all("{count}" in text for text in texts(value) + texts(other)), key


def test_keys_are_namespaced_by_the_section_they_sit_in() -> None:
    for catalog, sections in ((EN, EN_SECTIONS), (ZH, ZH_SECTIONS)):
        for key in catalog:
            assert KEY.match(key), f"{key}: keys are area.thing_name"
            assert key.split(".")[0] == sections[key], f"{key} sits in section {sections[key]}"
    for name in ("en", "zh-CN"):
        text = (LOCALES / f"{name}.js").read_text(encoding="utf-8")
        found = [m.group(1) for m in map(SECTION.match, text.splitlines()) if m]
        assert [a for a in found if a in AREAS] == AREAS, (
            f"{name}.js: every area's header, in order"
        )


def test_no_empty_strings_except_where_meant() -> None:
    # chat.canned_unnamed: "Hi {visitor.name}" with no name reads "Hi there"; "您好" needs nothing.
    may_be_empty = {"chat.canned_unnamed"}
    for catalog in (EN, ZH):
        for key, value in catalog.items():
            assert key in may_be_empty or all(t.strip() for t in texts(value)), key
    assert all(t.strip() for t in texts(EN["chat.canned_unnamed"]))


# Full-width punctuation after Chinese text: "已保存。" not "已保存.".
ASCII_AFTER_CJK = re.compile(r"[\u3400-\u9fff][,.:;!?()]")
# English words a Chinese screen may show: product names, codes, units, endonyms.
LATIN_ALLOWED_IN_ZH = {
    *(
        "kefu",
        "English",
        "IP",
        "ID",
        "KB",
        "CSAT",
        "SLA",
        "URL",
        "API",
        "JSON",
        "CRM",
        "VIP",
        "UTC",
    ),
}


# Where ASCII punctuation is syntax: the keywords field splits on ",".
ASCII_PUNCTUATION_MEANT = {"admin.keywords_placeholder"}


def test_chinese_reads_as_chinese() -> None:
    for key, value in ZH.items():
        for text in texts(value):
            if key not in ASCII_PUNCTUATION_MEANT:
                assert not ASCII_AFTER_CJK.search(text), f"{key}: full-width punctuation: {text}"
            words = set(re.findall(r"[A-Za-z]{3,}", PLACEHOLDER.sub("", text)))
            stray = words - LATIN_ALLOWED_IN_ZH
            assert not stray, f"zh-CN {key} has English words {stray}: {text}"


def test_english_has_no_chinese_but_the_language_name() -> None:
    for key, value in EN.items():
        if key == "common.language_zh_cn":
            continue
        assert not any(CJK.search(t) for t in texts(value)), key


# The error codes of the requests the console makes (docs/rest.md), plus the generic ones of
# src/kefu/api/errors.py: each needs a sentence (errors.<code>) in both languages.
CONSOLE_ERROR_CODES = {
    "bad_request", "unauthenticated", "forbidden", "not_found", "method_not_allowed", "conflict",
    "too_large", "unsupported_media_type", "validation_error", "rate_limited", "unavailable",
    "internal_error", "invalid_json", "network", "generic",
    "invalid_credentials", "account_locked", "too_many_attempts", "token_expired", "token_revoked",
    "invalid_token", "missing_token", "agents_only", "insufficient_role",
    "conversation_not_found", "conversation_closed", "not_your_conversation", "not_waiting",
    "not_closed", "agent_not_found", "unknown_agent", "message_too_large", "empty_body",
    "attachment_too_large", "empty_file", "too_many_attachments", "attachment_not_found",
    "note_attachments", "link_expired", "too_many_labels", "invalid_label", "invalid_query",
    "invalid_cursor", "canned_reply_not_found", "shortcut_taken", "customer_not_found",
    "bad_customer_key", "lookup_unsupported", "ticket_not_found", "ticket_closed",
    "illegal_transition", "email_taken", "saga_state_conflict", "invalid_network",
    "already_blocked", "invalid_period", "period_too_long", "invalid_date",
    "dead_letter_not_found", "dead_letter_not_replayable", "empty_patch", "store_busy",
    "store_error", "auto_reply_not_found", "blacklist_entry_not_found",
}  # fmt: skip


def test_every_error_code_the_console_meets_has_a_sentence() -> None:
    assert sorted(c for c in CONSOLE_ERROR_CODES if f"errors.{c}" not in EN) == []
    # and the codes a module tests for by name (err.code === "...")
    for path in CONSOLE.glob("*.js"):
        for code in re.findall(r'\.code\s*===?\s*"([a-z_]+)"', path.read_text(encoding="utf-8")):
            assert f"errors.{code}" in EN, f"{path.name}: errors.{code}"


# ---- the literal-text scan -----------------------------------------------------------------

# index.html regions (element ids) of those modules' pages, not marked with data-i18n yet.
HTML_NOT_YET_CONVERTED: set[str] = set()  # i18n-views marked the last regions

# Not words for people: product names, browser and OS names (details.js reads a user agent),
# DOM and HTTP names, key names.
ALLOWED_LITERALS = {
    "kefu",
    "English",
    "Edge",
    "Opera",
    "Firefox",
    "Chrome",
    "Safari",
    "iOS",
    "iPadOS",
    "iPhone",
    "iPad",
    "Android",
    "Mac OS X",
    "macOS",
    "Windows",
    "Linux",
    "Version",
    "Edg/",
    "OPR/",
    "Firefox/",
    "Chrome/",
    "Version/",
    "noopener noreferrer",
    "noopener,noreferrer",
    "Notification",
    "Authorization",
    "Bearer",
    "Content-Type",
    "Enter",
    "Escape",
    "Tab",
    "Home",
    "End",
    "ArrowUp",
    "ArrowDown",
    "ArrowLeft",
    "ArrowRight",
    "Shift",
    "Backspace",
    "Delete",
}

# Code contexts whose strings are never shown: class names, selectors, DOM/event names.
CODE_CONTEXT = re.compile(
    r"(class:\s*|className\s*=\s*|classList\.\w+\(\s*|\$\$?\(\s*|querySelector(All)?\(\s*|"
    r"closest\(\s*|matches\(\s*|addEventListener\(\s*|createElement(NS)?\(\s*|"
    r"setAttribute\(\s*|getAttribute\(\s*|removeAttribute\(\s*|dataset\.\w+\s*===?\s*|"
    r"\b(t|tn|errorText)\(\s*|import\s.*from\s*|\bfrom\s*|new Error\(\s*|throw\s.*)$"
)
# A literal with words a person reads: "Take conversation", "Could not ...", "Visitor".
WORDS = re.compile(r"[A-Za-z]{2,}[,.:!?…]* +[A-Za-z]{2,}|^\W*[A-Z][a-z]{2,}\W*$")


def js_literals(source: str) -> list[tuple[int, str, str]]:
    """(line, text, code before it) for each string literal and each static part of a
    template literal, skipping comments and regular expression literals."""
    found: list[tuple[int, str, str]] = []
    i, n = 0, len(source)
    last_sig = ""  # the last significant character, to tell a regex from a division

    def line_of(pos: int) -> int:
        return source.count("\n", 0, pos) + 1

    while i < n:
        ch = source[i]
        if source.startswith("//", i):
            i = source.find("\n", i)
            i = n if i < 0 else i
        elif source.startswith("/*", i):
            i = source.index("*/", i) + 2
        elif ch in "\"'":
            j = i + 1
            while source[j] != ch:
                j += 2 if source[j] == "\\" else 1
            before = source[max(0, source.rfind("\n", 0, i) + 1) : i]
            found.append((line_of(i), source[i + 1 : j], before))
            i, last_sig = j + 1, ch
        elif ch == "`":
            j, start, depth = i + 1, i + 1, 0
            before = source[max(0, source.rfind("\n", 0, i) + 1) : i]
            while True:
                c = source[j]
                if c == "\\":
                    j += 2
                    continue
                if depth == 0 and c == "`":
                    found.append((line_of(start), source[start:j], before))
                    break
                if depth == 0 and source.startswith("${", j):
                    found.append((line_of(start), source[start:j], before))
                    depth, j = 1, j + 2
                    continue
                if depth and c == "{":
                    depth += 1
                elif depth and c == "}":
                    depth -= 1
                    if depth == 0:
                        start = j + 1
                elif depth and c in "\"'":
                    k = j + 1
                    while source[k] != c:
                        k += 2 if source[k] == "\\" else 1
                    j = k
                j += 1
            i, last_sig = j + 1, "`"
        elif ch == "/" and (last_sig in "(,=:[!&|?{};+-*%<>~^" or last_sig == ""):
            j, in_class = i + 1, False
            while True:
                c = source[j]
                if c == "\\":
                    j += 2
                    continue
                if c == "[":
                    in_class = True
                elif c == "]":
                    in_class = False
                elif c == "/" and not in_class:
                    break
                j += 1
            i, last_sig = j + 1, "/"
        else:
            if not ch.isspace():
                last_sig = ch
                if ch.isalnum() or ch in "_$":
                    # `return /re/` and `typeof x` read as words: a regex may follow them.
                    m = re.match(r"[\w$]+", source[i:])
                    word = m.group(0) if m else ch
                    last_sig = "(" if word in ("return", "typeof", "case", "in", "of") else "a"
                    i += len(word)
                    continue
            i += 1
    return found


def user_facing(text: str, before: str) -> bool:
    if not text.strip() or text.strip() in ALLOWED_LITERALS or CODE_CONTEXT.search(before):
        return False
    if KEY.match(text) or text.startswith(("/", "#", ".", "[", "http", "data-", "aria-")):
        return False
    return bool(WORDS.search(text))


def scan_module(path: Path) -> list[str]:
    return [
        f"{path.name}:{line}: {text!r}"
        for line, text, before in js_literals(path.read_text(encoding="utf-8"))
        if user_facing(text, before)
    ]


def console_modules() -> list[Path]:
    return sorted(p for p in CONSOLE.glob("*.js") if p.name != "i18n.js")


@pytest.mark.parametrize("module", [p.name for p in console_modules()])
def test_console_module_shows_no_literal_text(module: str) -> None:
    assert scan_module(CONSOLE / module) == []


def test_the_scan_finds_literal_text() -> None:
    """The scan itself: it flags words shown to people and passes code and keys."""
    flagged = scan_module_text(
        'el("button", { class: "btn primary", text: "Take conversation" });\n'
        "note(`Could not close: ${err.message}`);\n"
        '$("#x").textContent = "Visitor";\n'
        'const re = /["\']it\'s/g; t("chat.take");\n'
        'if (event.key === "Enter") $$(".rail-btn[data-page]");\n'
    )
    assert flagged == ["'Take conversation'", "'Could not close: '", "'Visitor'"]


def scan_module_text(source: str) -> list[str]:
    return [repr(text) for _, text, before in js_literals(source) if user_facing(text, before)]


def _code(value: str) -> bool:
    """Not words: a product name, an example code ("C1001", "203.0.113.0/24")."""
    return value in ALLOWED_LITERALS or bool(re.fullmatch(r"[A-Z0-9][A-Z0-9./:-]*", value))


class _PageText(HTMLParser):
    """Text nodes and shown attributes of index.html that no data-i18n* attribute covers."""

    SHOWN = ("title", "aria-label", "placeholder", "alt")
    VOID = {"meta", "link", "input", "br", "img", "hr", "source", "col", "wbr"}

    def __init__(self, region: str | None = None) -> None:
        """``region``: scan only that element's content (an id of HTML_NOT_YET_CONVERTED)."""
        super().__init__()
        self.region = region
        self.left_out = HTML_NOT_YET_CONVERTED - {region} if region else HTML_NOT_YET_CONVERTED
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.bare: list[str] = []

    def skipped(self) -> bool:
        ids = {attrs.get("id") for _, attrs in self.stack}
        if self.region and self.region not in ids:
            return True
        return bool(ids & self.left_out) or any(
            tag in ("svg", "script", "style", "kbd") for tag, _ in self.stack
        )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag not in self.VOID:
            self.stack.append((tag, named))
        if self.skipped() or named.get("id") in self.left_out:
            return
        for attribute in self.SHOWN:
            value = named.get(attribute)
            if value and f"data-i18n-{attribute}" not in named and not _code(value):
                self.bare.append(f"<{tag} {attribute}={value!r}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if not re.search(r"[A-Za-z\u3400-\u9fff]", text) or self.skipped():
            return
        tag, attrs = self.stack[-1] if self.stack else ("", {})
        if "data-i18n" in attrs or text in ALLOWED_LITERALS or text in {"k", "k kefu", "简体中文"}:
            return
        self.bare.append(f"<{tag}> {text!r}")


def test_index_html_marks_every_word() -> None:
    page = _PageText()
    page.feed((CONSOLE / "index.html").read_text(encoding="utf-8"))
    assert page.bare == []


def test_converted_regions_are_off_the_list() -> None:
    html = (CONSOLE / "index.html").read_text(encoding="utf-8")
    clean = []
    for region in sorted(HTML_NOT_YET_CONVERTED):
        assert f'id="{region}"' in html, f"no #{region} in index.html"
        page = _PageText(region)
        page.feed(html)
        if not page.bare:
            clean.append(region)
    assert clean == [], "converted: remove them from HTML_NOT_YET_CONVERTED"


def test_index_html_keys_exist() -> None:
    html = (CONSOLE / "index.html").read_text(encoding="utf-8")
    used = set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html))
    assert used and sorted(used - set(EN)) == []


def test_module_keys_exist() -> None:
    """Every literal key a module passes to t()/tn() is in the catalog (a missing one would
    show the key itself)."""
    missing = []
    for path in console_modules():
        source = path.read_text(encoding="utf-8")
        for key in re.findall(r'\b(?:t|tn)\(\s*"([a-z0-9_]+\.[a-z0-9_.]+)"', source):
            if key not in EN:
                missing.append(f"{path.name}: {key}")
    assert missing == []
