"""What kefu itself says in a chat, and when chat is open.

The welcome and offline texts (admins edit them from the console; the config gives the
defaults), the auto-reply rules (stored ones first, then configured), and the office
hours that decide whether the offline notice goes out and what the availability
endpoint answers.
"""

from __future__ import annotations

from datetime import datetime

from kefu.chat.assigner import Assigner
from kefu.config import ChatSettings
from kefu.domain.autoreply import AutoReplyRule, match_auto_reply
from kefu.domain.conversation import Conversation
from kefu.domain.models import NewMessage, Sender, SenderKind
from kefu.domain.office_hours import is_open, next_opening
from kefu.domain.sla import BusinessHours
from kefu.ports import Clock
from kefu.store.repositories import Repositories

BOT = Sender(SenderKind.BOT, None, "kefu")


class Greetings:
    def __init__(
        self, repos: Repositories, clock: Clock, settings: ChatSettings, assigner: Assigner
    ) -> None:
        self._repos = repos
        self._clock = clock
        self._settings = settings
        self._assigner = assigner
        self._auto_replies: list[AutoReplyRule] = []
        hours = settings.office_hours
        self._office_hours = (
            BusinessHours.of(hours.timezone, hours.days, hours.start, hours.end, hours.holidays)
            if hours is not None
            else None
        )
        self.welcome_message = settings.welcome_message
        self.offline_message = settings.offline_message

    async def reload_texts(self) -> None:
        """Welcome and offline texts: the stored ones if an admin set them, else config."""
        stored = await self._repos.settings.get_many(["welcome_message", "offline_message"])
        self.welcome_message = stored.get("welcome_message", self._settings.welcome_message)
        self.offline_message = stored.get("offline_message", self._settings.offline_message)

    async def reload_auto_replies(self) -> None:
        stored = [rule for _, rule in await self._repos.auto_replies.list()]
        configured = [
            AutoReplyRule(tuple(r.keywords), r.reply) for r in self._settings.auto_replies
        ]
        self._auto_replies = stored + configured

    def open_now(self) -> bool:
        """Inside the office hours (always, when none are configured)."""
        return self._office_hours is None or is_open(self._office_hours, self._clock.now())

    def opens_at(self) -> datetime | None:
        """When chat opens next (now, if open; None: no office hours or no opening ahead)."""
        if self._office_hours is None:
            return None
        return next_opening(self._office_hours, self._clock.now())

    async def for_new(self, conversation: Conversation) -> list[NewMessage]:
        """Bot messages for a new conversation: welcome, and the offline notice if nobody
        is online."""
        # One small read per new conversation keeps every node on the admin's latest text.
        await self.reload_texts()
        texts = [self.welcome_message]
        if not self.open_now() or not self._assigner.anyone_online():
            texts.append(self.offline_message)
        now = self._clock.now()
        return [NewMessage(conversation.id, BOT, text, now) for text in texts if text]

    def auto_reply(self, body: str) -> str | None:
        """The bot's answer to a visitor's message, if a rule's keywords match it."""
        if not self._auto_replies:
            return None
        return match_auto_reply(body, self._auto_replies)
