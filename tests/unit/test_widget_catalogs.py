"""The widget's two catalogs (src/kefu/web/static/widget_texts.json): the same keys and
placeholders in en and zh-CN, plural forms each language needs, every key the script asks
for present, and no visitor-facing English left in widget.js outside them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from kefu.web.widget_script import CATALOGS, MARKER, SCRIPT, build

LANGUAGES = ("en", "zh-CN")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Plural categories Intl.PluralRules gives for whole numbers in each language.
PLURAL_FORMS = {"en": {"one", "other"}, "zh-CN": {"other"}}
# Literals in widget.js that look like words but are protocol, not language.
TECHNICAL = {"Authorization", "Bearer ", "Content-Type", "DOMContentLoaded", "Enter", "Escape"}


def catalogs() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = json.loads(CATALOGS.read_text(encoding="utf-8"))
    return loaded


def forms(value: Any) -> list[str]:
    return list(value.values()) if isinstance(value, dict) else [value]


def placeholders(value: Any) -> set[str]:
    return {name for text in forms(value) for name in PLACEHOLDER.findall(text)}


def code_literals() -> list[tuple[int, str, str]]:
    """(line number, line, literal) for every double-quoted string in widget.js's code:
    not in comments, not in the CSS."""
    found = []
    in_css = in_comment = False
    for number, line in enumerate(SCRIPT.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("var CSS = ["):
            in_css = True
        if in_css:
            in_css = not stripped.startswith("].join(")
            continue
        if in_comment or stripped.startswith("/*"):
            in_comment = "*/" not in stripped
            continue
        if stripped.startswith("//"):
            continue
        code = line.split(" // ")[0]
        found += [(number, line, m) for m in re.findall(r'"((?:[^"\\]|\\.)*)"', code)]
    return found


def test_both_languages_have_the_same_keys() -> None:
    texts = catalogs()
    assert set(texts) == set(LANGUAGES)
    assert sorted(set(texts["en"]) ^ set(texts["zh-CN"])) == []


@pytest.mark.parametrize("key", sorted(catalogs()["en"]))
def test_each_key_has_the_same_placeholders_and_its_plural_forms(key: str) -> None:
    texts = catalogs()
    assert placeholders(texts["zh-CN"][key]) == placeholders(texts["en"][key])
    for lang in LANGUAGES:
        value = texts[lang][key]
        assert all(isinstance(text, str) and text for text in forms(value)), (lang, key)
        if isinstance(value, dict):
            assert set(value) == PLURAL_FORMS[lang], (lang, key)
            assert "count" in placeholders(value)


def test_chinese_texts_are_chinese_with_full_width_punctuation() -> None:
    for key, value in catalogs()["zh-CN"].items():
        for text in forms(value):
            if key == "email_placeholder":
                continue
            assert re.search(r"[\u4e00-\u9fff]", text), key
            # A sentence ends the Chinese way; ASCII "," "!" "?" ":" never appear.
            assert not re.search(r"[,!?:;](?!//)", text), (key, text)


def test_every_key_the_script_uses_exists_and_every_key_is_used() -> None:
    keys = set(catalogs()["en"])
    source = SCRIPT.read_text(encoding="utf-8")
    asked = set(re.findall(r'\bt\("([^"]+)"', source))
    asked |= set(re.findall(r'\blabel\([^;]*?, "[\w-]+", "([^"]+)"', source))
    assert asked - keys == set()
    literals = {literal for _, _, literal in code_literals()}
    # Error keys are looked up by the code the server answers with.
    unused = {key for key in keys if key not in literals and not key.startswith("errors.")}
    assert unused == set()


def test_no_visitor_facing_english_outside_the_catalogs() -> None:
    offending = [
        f"widget.js:{number}: {literal!r}"
        for number, line, literal in code_literals()
        if "i18n-ok" not in line
        and literal not in TECHNICAL
        and (
            re.match(r"\s*[A-Z][a-z]", literal)
            or re.search(r"[A-Za-z]{2,} [A-Za-z]{2,}.*[.!?…]$", literal)
            or re.search(r"[\u4e00-\u9fff]", literal)
        )
    ]
    assert offending == []


def test_the_server_splices_the_catalogs_into_one_script() -> None:
    built = build(SCRIPT.read_text(encoding="utf-8"), CATALOGS.read_text(encoding="utf-8"))
    body = built.body.decode("utf-8")
    assert MARKER not in body and "给我们留言" in body
    with pytest.raises(ValueError, match="kefu:texts"):
        build("(function () {})();", "{}")
