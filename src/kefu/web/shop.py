"""A sample shop on its own port: the widget on a page of another origin, as in real
life. ``kefu demo`` runs it next to kefu, and the browser tests use it the same way.

It is a separate aiohttp app on purpose: a different port is a different origin, so the
widget exercises CORS and the WebSocket ``Origin`` check exactly as on a customer's site.
"""

from __future__ import annotations

import html
from pathlib import Path
from types import TracebackType

from aiohttp import web

SHOP_DIR = Path(__file__).parent / "shop"
SITE_ID = "demo-shop"


class ShopServer:
    """Async context manager: serves the shop page until exit.

    ``kefu_url`` may be set after start (kefu may bind after the shop, on port 0); the
    page is rendered per request with the current value, as is ``widget_lang`` (the
    tag's ``data-kefu-lang``, unset: the visitor's browser chooses). ``locale`` picks the
    page itself: the English shop, or ``zh-CN`` for ``kefu demo --locale zh-CN``'s.
    """

    def __init__(
        self,
        host: str,
        port: int,
        kefu_url: str = "",
        signed_in: tuple[str, str] | None = None,
        locale: str = "en",
    ) -> None:
        self._host = host
        self._port = port
        self.kefu_url = kefu_url
        # (external_id, signature) of the customer "logged in" on /account: what a shop's
        # backend renders into the widget tag so kefu trusts who the visitor is.
        self.signed_in = signed_in
        self._runner: web.AppRunner | None = None
        self.port = port
        # Read once: a small file, and no disk read on the loop per request.
        page = "index.html" if locale == "en" else f"index.{locale}.html"
        self._template = (SHOP_DIR / page).read_text(encoding="utf-8")
        self.widget_lang: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def origins(self) -> list[str]:
        """Both spellings a browser may use for a loopback shop."""
        found = [self.url]
        if self._host in {"127.0.0.1", "localhost"}:
            found = [f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"]
        return found

    async def __aenter__(self) -> ShopServer:
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/account", self._account)
        app.router.add_get("/shop.css", self._css)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await site.start()
        for address in self._runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self.port = int(address[1])
                break
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _page(self, request: web.Request) -> web.Response:
        return self._render(identity="")

    async def _account(self, request: web.Request) -> web.Response:
        """The same page for a signed-in customer: the widget tag carries their identity."""
        if self.signed_in is None:
            raise web.HTTPNotFound()
        external_id, signature = self.signed_in
        identity = (
            f' data-kefu-external-id="{html.escape(external_id, quote=True)}"'
            f' data-kefu-signature="{html.escape(signature, quote=True)}"'
        )
        return self._render(identity=identity)

    def _render(self, identity: str) -> web.Response:
        kefu = self.kefu_url.rstrip("/")
        page = self._template.replace("{{KEFU_URL}}", html.escape(kefu, quote=True))
        if self.widget_lang is not None:
            identity += f' data-kefu-lang="{html.escape(self.widget_lang, quote=True)}"'
        page = page.replace("{{IDENTITY}}", identity)
        ws = kefu.replace("http", "ws", 1)
        # What a careful shop would send: the widget's origin for script, fetch and socket.
        csp = (
            f"default-src 'self'; script-src 'self' {kefu}; style-src 'self'; "
            f"img-src 'self' data: blob: {kefu}; connect-src 'self' {kefu} {ws}; "
            "object-src 'none'; base-uri 'none'"
        )
        return web.Response(
            text=page,
            content_type="text/html",
            headers={"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff"},
        )

    async def _css(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(SHOP_DIR / "shop.css")
