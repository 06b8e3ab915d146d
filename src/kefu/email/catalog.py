# Chinese texts use Chinese punctuation (full-width comma and colon) on purpose.
# ruff: noqa: RUF001
"""Every text kefu writes into an email, per locale, in one place (issue 16 asks for
zh-CN beside en). A site's ``locale`` chooses; anything else falls back to English.

Texts are ``str.format`` templates with named fields only; values are escaped by the
renderer (``kefu.email.compose``) before they go into the HTML part.
"""

from __future__ import annotations

from typing import Final

DEFAULT_LOCALE: Final = "en"

TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        # Subject of every mail of a ticket's thread; the tag lets a reply find its
        # ticket even when a mail client drops In-Reply-To and References.
        "subject": "Re: {subject} [#{ticket}]",
        "greeting": "Hello {name},",
        "greeting_anonymous": "Hello,",
        "reply_above": "Reply to this email to answer; please keep the line below.",
        "signature": "{agent}, {team}",
        "footer": "Ticket #{ticket}: {subject}",
        "team": "Support",
    },
    "zh-CN": {
        "subject": "回复：{subject} [#{ticket}]",
        "greeting": "{name}，您好：",
        "greeting_anonymous": "您好：",
        "reply_above": "直接回复此邮件即可继续沟通，请保留下面这一行。",
        "signature": "{agent}，{team}",
        "footer": "工单 #{ticket}：{subject}",
        "team": "客服团队",
    },
}

LOCALES: Final = frozenset(TEXTS)


def texts(locale: str | None) -> dict[str, str]:
    """The locale's texts; English for an unknown or unset locale."""
    return TEXTS.get(locale or DEFAULT_LOCALE, TEXTS[DEFAULT_LOCALE])
