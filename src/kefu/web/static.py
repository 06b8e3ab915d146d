"""Routes for the files browsers load: ``/widget.js``, ``/static/…``, ``/console``.

Plain files from the package, no build step: what is in the repository is what runs.
Registered before the catch-all API resource so these paths never reach FastAPI.
``no-cache`` makes browsers revalidate (cheap, with the ETag aiohttp sends), so a
deploy reaches every open tab on its next load instead of after some max-age.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from kefu.web.widget_script import widget_script

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
CONSOLE_DIR = WEB_DIR / "console"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/widget.js", _widget)
    app.router.add_get("/console", _console)
    app.router.add_get("/console/", _console)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
    app.router.add_static("/console/", CONSOLE_DIR, append_version=False)
    app.on_response_prepare.append(_revalidate)


async def _widget(request: web.Request) -> web.Response:
    """The widget with its catalogs spliced in (kefu.web.widget_script): one script tag."""
    script = widget_script()
    zipped = "gzip" in request.headers.get("Accept-Encoding", "")
    etag = script.gzip_etag if zipped else script.etag
    headers = {
        "Content-Type": "text/javascript; charset=utf-8",
        # Loaded by shop pages on other origins as a classic script.
        "Cross-Origin-Resource-Policy": "cross-origin",
        "ETag": etag,
        "Vary": "Accept-Encoding",
    }
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    if zipped:
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=script.gzipped if zipped else script.body, headers=headers)


async def _console(request: web.Request) -> web.FileResponse:
    return web.FileResponse(
        CONSOLE_DIR / "index.html", headers={"Content-Type": "text/html; charset=utf-8"}
    )


async def _revalidate(request: web.Request, response: web.StreamResponse) -> None:
    path = request.path
    if path == "/widget.js" or path.startswith(("/static/", "/console")):
        response.headers.setdefault("Cache-Control", "no-cache")
