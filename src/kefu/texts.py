# Chinese texts use Chinese punctuation (full-width comma, colon, full stop) on purpose.
# ruff: noqa: RUF001
"""Everything kefu itself writes to people, per language, in one place (issue 16): the
bot's default welcome and offline notice, the system lines of a conversation, the texts of
its emails, the words of the tickets it drafts from offline messages and chats. A site's
``locale`` chooses (CONTRACT.md "Languages"); an unknown or unset one is English. What
admins write (welcome texts they set, auto-replies, canned replies) is never translated:
it is theirs, stored per language where the console stores it so.

The widget's and the console's words live with them (``web/static/widget_texts.json``,
``web/console/locales/``): they follow the reader's browser, not the site.

Texts are ``str.format`` templates with named fields only; tests/unit/test_server_texts.py
checks that both languages have the same keys and fields.
"""

from __future__ import annotations

from typing import Final

DEFAULT_LOCALE: Final = "en"

TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        # -- chat: the bot and the conversation's system lines --
        "chat.welcome": "Hi! Thanks for reaching out. An agent will be with you shortly.",
        "chat.offline": (
            "Nobody is online right now. Leave your message and email and we will get back to you."
        ),
        "chat.transferred": "Conversation transferred to {agent}.",
        "chat.closed": "Conversation closed.",
        "chat.reopened": "Conversation reopened.",
        # What the bot signs with when a site has no name anywhere: a role.
        "chat.bot_name": "Support",
        # -- tickets kefu drafts (read by agents): from an offline message, from a chat --
        "ticket.offline_subject": "Offline message",
        "ticket.offline_footer": "— {sender}, left while no agent was online",
        "ticket.a_visitor": "a visitor",
        "ticket.chat_subject": "Chat with {visitor}",
        "ticket.visitor": "Visitor",
        "ticket.agent": "Agent",
        "ticket.bot": "Bot",
        "ticket.system": "System",
        "ticket.line": "[{time}] {who}: {body}",
        "ticket.internal": "{name} (internal note)",
        "ticket.attachments": "[attachments: {names}]",
        "ticket.list_separator": ", ",
        "ticket.rest": "… the rest is in conversation {conversation}",
        "ticket.no_messages": "(conversation {conversation} has no messages)",
        # -- email: every mail of a ticket's thread --
        # The subject's tag lets a reply find its ticket even when a mail client drops
        # In-Reply-To and References.
        "email.subject": "Re: {subject} [#{ticket}]",
        "email.greeting": "Hello {name},",
        "email.greeting_anonymous": "Hello,",
        "email.reply_above": "Reply to this email to answer; please keep the line below.",
        "email.signature": "{agent}, {team}",
        "email.footer": "Ticket #{ticket}: {subject}",
        "email.team": "Support",
    },
    "zh-CN": {
        "chat.welcome": "您好！感谢您的咨询，客服人员马上为您服务。",
        "chat.offline": "目前没有客服在线。请留下您的问题和邮箱，我们会尽快回复您。",
        "chat.transferred": "对话已转接给{agent}。",
        "chat.closed": "对话已结束。",
        "chat.reopened": "对话已重新打开。",
        "chat.bot_name": "客服",
        "ticket.offline_subject": "离线留言",
        "ticket.offline_footer": "— {sender}，在没有客服在线时留言",
        "ticket.a_visitor": "一位访客",
        "ticket.chat_subject": "与{visitor}的对话",
        "ticket.visitor": "访客",
        "ticket.agent": "客服",
        "ticket.bot": "机器人",
        "ticket.system": "系统",
        "ticket.line": "[{time}] {who}：{body}",
        "ticket.internal": "{name}（内部备注）",
        "ticket.attachments": "[附件：{names}]",
        "ticket.list_separator": "、",
        "ticket.rest": "…… 其余内容见会话 {conversation}",
        "ticket.no_messages": "（会话 {conversation} 没有消息）",
        "email.subject": "回复：{subject} [#{ticket}]",
        "email.greeting": "{name}，您好：",
        "email.greeting_anonymous": "您好：",
        "email.reply_above": "直接回复此邮件即可继续沟通，请保留下面这一行。",
        "email.signature": "{agent}，{team}",
        "email.footer": "工单 #{ticket}：{subject}",
        "email.team": "客服团队",
    },
}

LOCALES: Final = frozenset(TEXTS)


def texts(locale: str | None) -> dict[str, str]:
    """The locale's texts; English for an unknown or unset locale."""
    return TEXTS.get(locale or DEFAULT_LOCALE, TEXTS[DEFAULT_LOCALE])


def say(locale: str | None, key: str, **fields: object) -> str:
    """One text in ``locale`` with its fields filled."""
    return texts(locale)[key].format(**fields)
