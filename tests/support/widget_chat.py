"""What the widget's browser tests of the pre-chat form, the emoji picker and the office
hours share: an agent on a real socket, waiting for a visitor's words there, a site's
settings saved as an admin would, and the page's script errors."""

from __future__ import annotations

from typing import Any

import aiohttp
from playwright.async_api import Page

from kefu.chat.sites import SiteConfig
from kefu.web.shop import SITE_ID
from tests.support.kefu import Socket
from tests.support.widget import LiveKefu


async def agent_socket(
    live: LiveKefu, http: aiohttp.ClientSession
) -> tuple[dict[str, Any], Socket]:
    """An agent signed in with a socket open: online, so conversations are assigned."""
    agent = await live.agent(http)
    return agent, Socket(await http.ws_connect(live.url + f"/ws?token={agent['token']}"))


async def message_with(ws: Socket, body: str) -> dict[str, Any]:
    """The next ``message.new`` carrying ``body`` (others kept aside)."""
    while True:
        frame = await ws.expect("message.new")
        if frame["message"]["body"] == body:
            return frame


async def configure(live: LiveKefu, config: SiteConfig) -> None:
    """The demo shop site's settings, saved as the admin page saves them."""
    assert live.node is not None
    sites = live.node.chat.greetings.sites
    assert sites is not None
    await sites.save(SITE_ID, config, live.node.clock.now())


def script_errors(page: Page) -> list[str]:
    """Uncaught errors of the page's scripts (the widget's among them), as they happen."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors
