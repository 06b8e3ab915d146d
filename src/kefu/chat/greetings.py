"""What kefu itself says in a chat, and when chat is open.

The welcome and offline texts (admins edit them from the console; the config gives the
defaults), the auto-reply rules (stored ones first, then configured), and the office
hours that decide whether the offline notice goes out and what the availability
endpoint answers.
"""

from __future__ import annotations

from datetime import datetime

from kefu.chat.assigner import Assigner
from kefu.chat.prechat import missing, refusal
from kefu.chat.sites import Resolved, Sites
from kefu.config import ChatSettings
from kefu.domain.autoreply import AutoReplyRule, match_auto_reply
from kefu.domain.conversation import Conversation
from kefu.domain.models import NewMessage, Sender, SenderKind
from kefu.domain.office_hours import is_open, next_opening
from kefu.domain.sla import BusinessHours
from kefu.ports import Clock
from kefu.store.repositories import Repositories
from kefu.texts import say

BOT = Sender(SenderKind.BOT, None, "kefu")
# How old a node's copy of a site's pre-chat form may be when a visitor session is
# created (Sites.prechat): an admin's stricter form reaches other nodes' session creation
# within a second, and their conversation starts (a fresh read) at once.
PRECHAT_COPY_SECONDS = 1.0


class Greetings:
    def __init__(
        self,
        repos: Repositories,
        clock: Clock,
        settings: ChatSettings,
        assigner: Assigner,
        sites: Sites | None = None,
    ) -> None:
        self._repos = repos
        self.sites = sites
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
        # None: kefu's own text in the site's locale (kefu.texts), see default_texts.
        self.welcome_message: str | None = settings.welcome_message
        self.offline_message: str | None = settings.offline_message

    async def reload_texts(self) -> None:
        """Welcome and offline texts: the stored ones if an admin set them, else config's,
        else None (kefu's own, in each site's locale)."""
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

    def open_for(self, site: Resolved | None) -> bool:
        """Inside the site's own office hours if it has some, else the config's."""
        if site is None or site.hours is None:
            return self.open_now()
        return is_open(site.hours, self._clock.now())

    def opens_at_for(self, site: Resolved | None) -> datetime | None:
        if site is None or site.hours is None:
            return self.opens_at()
        return next_opening(site.hours, self._clock.now())

    async def admit_session(self, site_id: str | None, name: str | None, email: str | None) -> None:
        """Refuse (``prechat_required``, 422) a visitor session without what the site's
        pre-chat form requires. A refusal is confirmed with a fresh read: a copy of the
        form a second old never refuses a visitor an admin no longer asks for anything."""
        if self.sites is None:
            return
        form = await self.sites.prechat(site_id, max_age=PRECHAT_COPY_SECONDS)
        if missing(form.required(), name, email):
            lacking = missing((await self.sites.prechat(site_id)).required(), name, email)
            if lacking:
                raise refusal(lacking)

    async def admit_conversation(self, visitor_id: str, site_id: str | None) -> None:
        """Refuse a visitor's message that would open a new conversation when the visitor
        lacks what its site's pre-chat form requires now (a session made before the admin
        required it, or on another node within its copy's second); its open conversation,
        if the store holds one, goes on. Called before anything is stored. A site that
        requires nothing (the copy says so) costs no query: first messages are hot too."""
        if self.sites is None:
            return
        form = await self.sites.prechat(site_id, max_age=PRECHAT_COPY_SECONDS)
        if not any(form.required().values()):
            return
        visitor = await self._repos.visitors.get(visitor_id)
        if visitor is None:
            return
        lacking = missing(
            (await self.sites.prechat(site_id)).required(), visitor.name, visitor.email
        )
        if not lacking:
            return
        going = await self._repos.conversations.search(
            status="open", assignee_id=None, visitor_id=visitor_id, limit=1
        )
        if not going:
            raise refusal(lacking)

    def default_texts(self, locale: str | None) -> dict[str, str]:
        """Welcome and offline texts where no site sets its own: the admin's or config's
        (as written), else kefu's own in ``locale``."""
        welcome, offline = self.welcome_message, self.offline_message  # "" turns one off
        return {
            "welcome": say(locale, "chat.welcome") if welcome is None else welcome,
            "offline": say(locale, "chat.offline") if offline is None else offline,
        }

    async def locale_of(self, conversation: Conversation) -> str:
        """The locale of the conversation's site: the language of kefu's own lines in it."""
        if self.sites is None:
            return "en"
        visitor = await self._repos.visitors.get(conversation.visitor_id)
        return self.sites.locale(visitor.site_id or "" if visitor is not None else "")

    async def site_of(
        self,
        conversation: Conversation | None,
        *,
        site_id: str | None = None,
        locale: str | None = None,
    ) -> Resolved | None:
        """The conversation's (or the given) site's settings in the visitor's language;
        None when no site settings are wired (tests that build the chat alone)."""
        if self.sites is None:
            return None
        if conversation is not None:
            visitor = await self._repos.visitors.get(conversation.visitor_id)
            if visitor is not None:
                site_id, locale = visitor.site_id, visitor.locale
        await self.reload_texts()
        defaults = self.default_texts(self.sites.locale(site_id or ""))
        return await self.sites.resolve(site_id, locale, defaults)

    async def bot(self, conversation: Conversation) -> Sender:
        """The bot as this conversation's visitor sees it: signed with the site's name."""
        site = await self.site_of(conversation)
        return BOT if site is None else Sender(SenderKind.BOT, None, site.name)

    async def for_new(
        self, conversation: Conversation
    ) -> tuple[list[NewMessage], NewMessage | None]:
        """Bot messages for a new conversation: the welcome (and the offline notice outside
        the office hours), stored with the first message; and apart, the offline notice to
        store only if nobody is online once the assigner was asked (``unless_online``): with
        several nodes only asking tells who is online now, and the first message is stored
        before the asking (``ChatMessages.send``)."""
        # One small read per new conversation keeps every node on the admin's latest text.
        site = await self.site_of(conversation)
        if site is None:
            await self.reload_texts()
            defaults, bot = self.default_texts(None), BOT
            welcome, offline = defaults["welcome"], defaults["offline"]
        else:
            welcome, offline = site.welcome, site.offline
            bot = Sender(SenderKind.BOT, None, site.name)
        texts = [welcome]
        unless_online: NewMessage | None = None
        now = self._clock.now()
        if not self.open_for(site):
            texts.append(offline)
        elif offline:
            unless_online = NewMessage(conversation.id, bot, offline, now)
        return [
            NewMessage(conversation.id, bot, text, now) for text in texts if text
        ], unless_online

    def nobody_online(self) -> bool:
        """Is nobody taking conversations, as the assigner knows now?"""
        return not self._assigner.anyone_online()

    def auto_reply(self, body: str) -> str | None:
        """The bot's answer to a visitor's message, if a rule's keywords match it."""
        if not self._auto_replies:
            return None
        return match_auto_reply(body, self._auto_replies)
