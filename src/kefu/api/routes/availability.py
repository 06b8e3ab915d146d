"""Whether chat is open and any agent online, so the widget can offer the offline form
up front (and say when chat opens); and the site's locale, which the widget speaks when
the visitor's browser asks for neither of its languages."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from kefu.api.deps import NodeDep
from kefu.errors import BadInput
from kefu.timefmt import iso

router = APIRouter(prefix="/api/v1", tags=["visitors"])


class Availability(BaseModel):
    agents_online: bool  # someone can answer now (false outside the office hours too)
    open: bool = True  # inside chat.office_hours (always true without them)
    opens_at: str | None = None  # the next opening, when closed and one is known
    locale: str = "en"  # the language of the site asked about (?site=), else en


@router.get("/availability", response_model=Availability)
async def availability(kefu: NodeDep, site: str | None = None) -> Availability:
    """Public (no token): a shop page shows "we are online" before anyone chats."""
    configured = kefu.settings.site(site) if site is not None else None
    if site is not None and configured is None:
        raise BadInput(f"no site {site!r} is configured", code="unknown_site")
    # The site's own office hours when an admin set some (kefu.chat.sites), else config's.
    is_open, opens = kefu.chat.open_for(await kefu.chat.site(site))
    return Availability(
        agents_online=is_open and await kefu.chat.available_now(),
        open=is_open,
        opens_at=iso(opens) if opens is not None else None,
        locale=configured.locale if configured is not None else "en",
    )
