"""Per-site settings an admin edits in the console: the widget's look, its greeting, the
bot's welcome and offline texts (per language), the pre-chat form and the office hours.

Stored in the settings table under ``site.<id>`` (one row per site: two admins editing
two sites never overwrite each other), read by every node on each use, so a change
applies at once everywhere. The config's ``sites:`` gives the ids, names and locales;
``default`` is the site of a widget without ``data-kefu-site`` and the fallback of every
site for a text it leaves empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from time import monotonic
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from kefu.config import SiteSettings
from kefu.domain.office_hours import DatedHours
from kefu.domain.sla import BusinessHours
from kefu.store.settings import SettingsRepository
from kefu.texts import say

KEY_PREFIX = "site."
DEFAULT_SITE = "default"
DEFAULT_COLOR = "#2563eb"
LANGUAGES: tuple[str, ...] = ("en", "zh-CN")
Language = Literal["en", "zh-CN"]
Field_ = Literal["off", "optional", "required"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


HHMM = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
# A dated exception is about this year or the next few: a bound keeps a typo's year 9999
# (or 0001) out, and the lists bounded keep the stored row small.
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
MAX_EXCEPTIONS = 366


def _workweek() -> list[Weekday]:
    return ["mon", "tue", "wed", "thu", "fri"]


def _iso_date(value: Any) -> Any:
    """Only ``YYYY-MM-DD`` (or a date): pydantic alone would also take a timestamp or a
    datetime string, which in a list of local dates is a mistake, not a date."""
    if isinstance(value, date) or (
        isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)
    ):
        return value
    raise ValueError("a date is written YYYY-MM-DD")


def _in_range(day: date) -> date:
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"{day.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")
    return day


LocalDate = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_in_range)]


class SpecialHours(BaseModel):
    """One date's own opening hours, in place of the weekday's (or on a closed weekday)."""

    model_config = ConfigDict(extra="forbid")

    date: LocalDate
    start: HHMM
    end: HHMM

    @model_validator(mode="after")
    def _ordered(self) -> SpecialHours:
        if self.start >= self.end:
            raise ValueError(
                f"the special hours of {self.date.isoformat()} must start before they end"
            )
        return self


class OfficeHours(BaseModel):
    """When a site's live chat is open, in its own time zone (config's spelling), with
    dated exceptions: ``holidays`` (closed all day) and ``special`` hours for a date."""

    model_config = ConfigDict(extra="forbid")

    timezone: Annotated[str, StringConstraints(max_length=64)] = "UTC"
    days: list[Weekday] = Field(default_factory=_workweek)
    start: HHMM = "09:00"
    end: HHMM = "18:00"
    holidays: list[LocalDate] = Field(default_factory=list, max_length=MAX_EXCEPTIONS)
    special: list[SpecialHours] = Field(default_factory=list, max_length=MAX_EXCEPTIONS)

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, value: list[date]) -> list[date]:
        return sorted(set(value))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> OfficeHours:
        if not self.days:
            raise ValueError("office hours need at least one weekday")
        if self.start >= self.end:
            raise ValueError("office hours must start before they end")
        self.days = sorted(set(self.days), key=WEEK.index)
        dates = [item.date for item in self.special]
        if len(set(dates)) != len(dates):
            raise ValueError("a date has special hours at most once")
        both = sorted(set(dates) & set(self.holidays))
        if both:
            raise ValueError(f"{both[0].isoformat()} is both a holiday and a day of special hours")
        self.special = sorted(self.special, key=lambda item: item.date)
        return self

    def business_hours(self) -> DatedHours:
        weekly = BusinessHours.of(self.timezone, self.days, self.start, self.end)
        special = {
            item.date: (time.fromisoformat(item.start), time.fromisoformat(item.end))
            for item in self.special
        }
        return DatedHours.of(weekly, self.holidays, special)


WEEK: list[str] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class SiteTexts(BaseModel):
    """One language's texts; an empty or missing one falls back (see ``Resolved``)."""

    model_config = ConfigDict(extra="forbid")

    greeting: Text = ""  # shown by the widget above the chat, before anyone writes
    welcome: Text = ""  # the bot's first message in a new conversation
    offline: Text = ""  # the bot's notice when nobody is online or chat is closed


class Prechat(BaseModel):
    """What the widget asks before the first message (``required`` is enforced by the
    server too: kefu.chat.prechat)."""

    model_config = ConfigDict(extra="forbid")

    name: Field_ = "off"
    email: Field_ = "off"

    def required(self) -> dict[str, bool]:
        return {"name": self.name == "required", "email": self.email == "required"}


class SiteConfig(BaseModel):
    """What an admin sets for one site (``PUT /api/v1/sites/{id}/settings``)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    color: str = DEFAULT_COLOR
    position: Literal["right", "left"] = "right"
    texts: dict[Language, SiteTexts] = Field(default_factory=dict)
    prechat: Prechat = Field(default_factory=Prechat)
    # None: the config's chat.office_hours (always open without them).
    office_hours: OfficeHours | None = None

    @field_validator("color")
    @classmethod
    def _color(cls, value: str) -> str:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
            raise ValueError("a colour is #rrggbb (six hex digits)")
        return value.lower()


@dataclass(frozen=True, slots=True)
class Resolved:
    """A site's settings as a visitor meets them, texts in the visitor's language."""

    site_id: str
    name: str
    locale: str
    language: str
    config: SiteConfig
    greeting: str  # "" when no admin set one (the widget keeps its own)
    welcome: str
    offline: str
    hours: DatedHours | None  # None: this site uses the config's office hours


def language_of(visitor_locale: str | None, site_locale: str) -> str:
    """The visitor's language when kefu speaks it, else the site's."""
    if visitor_locale:
        tag = visitor_locale.lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return site_locale


class Sites:
    """The configured sites plus what admins stored for them."""

    def __init__(self, configured: Sequence[SiteSettings], repo: SettingsRepository) -> None:
        self._configured = {site.id: site for site in configured}
        self._repo = repo
        # site id -> (monotonic time read, its pre-chat form): see ``prechat``.
        self._prechat: dict[str, tuple[float, Prechat]] = {}

    def known(self, site_id: str) -> bool:
        return site_id == DEFAULT_SITE or site_id in self._configured

    def ids(self) -> list[str]:
        return [DEFAULT_SITE, *(i for i in self._configured if i != DEFAULT_SITE)]

    def configured(self, site_id: str) -> SiteSettings | None:
        return self._configured.get(site_id)

    def locale(self, site_id: str) -> str:
        site = self._configured.get(site_id)
        return site.locale if site is not None else "en"

    async def stored(self, site_ids: Sequence[str]) -> dict[str, SiteConfig]:
        values = await self._repo.get_many([KEY_PREFIX + i for i in site_ids])
        return {i: _parse(values.get(KEY_PREFIX + i)) for i in site_ids}

    async def save(self, site_id: str, config: SiteConfig, now: Any) -> None:
        await self._repo.put_many({KEY_PREFIX + site_id: config.model_dump(mode="json")}, now)
        self._prechat.pop(site_id, None)

    def site_of(self, site_id: str | None) -> str:
        """The site a visitor of ``site_id`` meets: the default one for none or unknown."""
        return site_id if site_id and site_id in self._configured else DEFAULT_SITE

    async def prechat(self, site_id: str | None, *, max_age: float = 0.0) -> Prechat:
        """The pre-chat form of the visitor's site. ``max_age`` > 0 accepts a copy read that
        many seconds ago on this node (a save here drops it at once): creating a visitor
        session is the busiest public write, and one settings read per creation would cost
        more than the creation's own insert on SQLite. Callers that refuse on a copy check
        again with a fresh read, so a copy never refuses wrongly (see Greetings)."""
        site_id = self.site_of(site_id)
        cached = self._prechat.get(site_id)
        now = monotonic()
        if cached is not None and max_age > 0 and now - cached[0] <= max_age:
            return cached[1]
        form = (await self.stored([site_id]))[site_id].prechat
        self._prechat[site_id] = (now, form)
        return form

    async def resolve(
        self,
        site_id: str | None,
        visitor_locale: str | None,
        defaults: Mapping[str, str],
    ) -> Resolved:
        """``defaults``: ``welcome`` and ``offline`` when neither this site nor the default
        site has one in the language (the chat's global texts)."""
        site_id = self.site_of(site_id)
        ids = [site_id] if site_id == DEFAULT_SITE else [site_id, DEFAULT_SITE]
        stored = await self.stored(ids)
        own, fallback = stored[site_id], stored[DEFAULT_SITE]
        locale = self.locale(site_id)
        language = language_of(visitor_locale, locale)

        def text(field: str) -> str:
            for config in (own, fallback):
                for lang in dict.fromkeys((language, locale)):
                    texts = config.texts.get(lang)  # type: ignore[call-overload]
                    value = getattr(texts, field) if texts is not None else ""
                    if value:
                        return str(value)
            return defaults.get(field, "")

        configured = self._configured.get(site_id)
        name = own.name or (configured.name if configured else None) or fallback.name
        hours_of = own.office_hours if own.office_hours is not None else fallback.office_hours
        hours = hours_of.business_hours() if hours_of is not None else None
        return Resolved(
            site_id=site_id,
            # No name anywhere: the bot signs with a role (kefu.texts), never the product.
            name=name or say(language, "chat.bot_name"),
            locale=locale,
            language=language,
            config=own,
            greeting=text("greeting"),
            welcome=text("welcome"),
            offline=text("offline"),
            hours=hours,
        )


def _parse(value: Any) -> SiteConfig:
    """A stored value, or the defaults when none (or one no longer valid) is stored."""
    if value is None:
        return SiteConfig()
    try:
        return SiteConfig.model_validate(value)
    except ValueError:
        return SiteConfig()
