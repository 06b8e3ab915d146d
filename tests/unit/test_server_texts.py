"""kefu's server-side catalog (kefu.texts): both languages have the same keys and the same
``{fields}``, the Chinese ones are Chinese, and an unknown locale is English."""

from __future__ import annotations

import re
from string import Formatter

from kefu import texts
from kefu.email.catalog import texts as email_texts


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


def test_both_languages_have_the_same_keys_and_fields() -> None:
    en, zh = texts.TEXTS["en"], texts.TEXTS["zh-CN"]
    assert set(texts.TEXTS) == {"en", "zh-CN"}
    assert sorted(set(en) ^ set(zh)) == []
    assert {k: fields(v) for k, v in zh.items()} == {k: fields(v) for k, v in en.items()}
    # No English word left in a Chinese text (its {fields} aside).
    assert [k for k, v in zh.items() if re.search(r"[A-Za-z]", re.sub(r"\{\w+\}", "", v))] == []


def test_a_locale_kefu_does_not_speak_is_english() -> None:
    assert texts.say("de-DE", "chat.transferred", agent="Bo") == "Conversation transferred to Bo."
    assert texts.say(None, "chat.closed") == "Conversation closed."
    assert texts.say("zh-CN", "chat.transferred", agent="小王") == "对话已转接给小王。"
    assert email_texts("zh-CN")["team"] == "客服团队" and email_texts("fr")["team"] == "Support"
