"""Per-site settings: admins edit them from the console (greeting, welcome and offline
texts per language, widget colour and position, pre-chat form, office hours), and the
widget reads what concerns it, without a token, when a page loads."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from kefu.api.deps import AdminDep, NodeDep
from kefu.chat.sites import DEFAULT_SITE, Prechat, SiteConfig, Sites
from kefu.errors import NotFound
from kefu.timefmt import iso

router = APIRouter(prefix="/api/v1", tags=["sites"])


class SiteOut(BaseModel):
    id: str
    name: str | None  # the config's name (the settings' name, when set, wins)
    locale: str
    settings: SiteConfig


class SiteList(BaseModel):
    items: list[SiteOut]


class WidgetSettings(BaseModel):
    site: str
    name: str  # what the bot signs with
    locale: str  # the site's language
    language: str  # the language of greeting (the one asked for, when kefu speaks it)
    color: str
    position: str
    greeting: str  # "" when no admin set one: the widget keeps its own
    prechat: Prechat
    open: bool  # inside the site's office hours (always true without any)
    opens_at: str | None


def _sites(kefu: NodeDep) -> Sites:
    sites = kefu.chat.greetings.sites
    if sites is None:  # every served node wires them (bootstrap)
        raise RuntimeError("site settings are not wired")
    return sites


def _known(sites: Sites, site_id: str) -> None:
    if not sites.known(site_id):
        raise NotFound(f"no site {site_id[:40]!r} is configured", code="site_not_found")


@router.get("/sites", response_model=SiteList)
async def list_sites(caller: AdminDep, kefu: NodeDep) -> SiteList:
    """``default`` (a widget without data-kefu-site, and every site's fallback) first,
    then each configured site."""
    sites = _sites(kefu)
    ids = sites.ids()
    stored = await sites.stored(ids)
    items = []
    for site_id in ids:
        configured = sites.configured(site_id)
        items.append(
            SiteOut(
                id=site_id,
                name=configured.name if configured else None,
                locale=sites.locale(site_id),
                settings=stored[site_id],
            )
        )
    return SiteList(items=items)


@router.get("/sites/{site_id}/settings", response_model=SiteConfig)
async def get_site_settings(site_id: str, caller: AdminDep, kefu: NodeDep) -> SiteConfig:
    sites = _sites(kefu)
    _known(sites, site_id)
    return (await sites.stored([site_id]))[site_id]


@router.put("/sites/{site_id}/settings", response_model=SiteConfig)
async def put_site_settings(
    site_id: str, body: SiteConfig, caller: AdminDep, kefu: NodeDep
) -> SiteConfig:
    """Replace the site's settings as a whole (what the console's page holds); every node
    uses them from the next page load or conversation on."""
    sites = _sites(kefu)
    _known(sites, site_id)
    await sites.save(site_id, body, kefu.clock.now())
    await kefu.repos.audit.record(
        "settings.site",
        actor=caller.key,
        target=site_id,
        now=kefu.clock.now(),
        detail={"fields": sorted(body.model_dump(exclude_defaults=True))},
    )
    return body


@router.get("/widget-settings", response_model=WidgetSettings)
async def widget_settings(
    kefu: NodeDep,
    site: Annotated[str | None, Query(max_length=40)] = None,
    lang: Annotated[str | None, Query(max_length=35)] = None,
) -> WidgetSettings:
    """Public (no token): what the widget shows before anyone chats. An unknown site is
    served the default site's settings, as its visitors are."""
    resolved = await kefu.chat.site(site or DEFAULT_SITE, lang)
    if resolved is None:
        raise RuntimeError("site settings are not wired")
    is_open, opens = kefu.chat.open_for(resolved)
    config = resolved.config
    position: Literal["right", "left"] = config.position
    return WidgetSettings(
        site=resolved.site_id,
        name=resolved.name,
        locale=resolved.locale,
        language=resolved.language,
        color=config.color,
        position=position,
        greeting=resolved.greeting,
        prechat=config.prechat,
        open=is_open,
        opens_at=iso(opens) if opens is not None else None,
    )
