"""Security headers on every response kefu sends.

``nosniff`` everywhere: a browser must never guess a type (an uploaded text file
rendered as HTML is stored XSS). Every HTML page gets a strict Content-Security-Policy:
scripts and styles only from kefu itself, no inline script, no plugins, no framing, so
even if some message text slipped into markup it could not run. ``/docs`` (FastAPI's
Swagger UI) loads its bundle from a CDN with an inline bootstrap script; it gets its own,
wider policy rather than weakening every other page.
"""

from __future__ import annotations

from aiohttp import web

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self' ws: wss:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# connect-src: CSP level 3 browsers match 'self' against ws(s) of the same host, older
# ones do not; "ws: wss:" keeps the console's socket working on both. Tokens, not the
# CSP, guard who may connect (and the handshake checks Origin).

DOCS_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "style-src 'self' https://cdn.jsdelivr.net",
        "img-src 'self' data: https://fastapi.tiangolo.com",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: runs just before any response's headers leave, so it
    covers FastAPI's streamed answers, static files and errors alike."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if headers.get("Content-Type", "").startswith("text/html"):
        policy = DOCS_CSP if request.path in {"/docs", "/docs/oauth2-redirect"} else CSP
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Frame-Options", "DENY")
