"""Which browser origins may talk to kefu, and as whom.

Browsers attach ``Origin`` to every cross-origin request and to every WebSocket
handshake, and a page cannot forge it. kefu uses it in two places:

- CORS on the visitor endpoints: only origins listed under some configured site get the
  ``Access-Control-Allow-Origin`` answer, so an arbitrary page cannot script the widget's
  API with a visitor's token.
- The WebSocket handshake, which CORS does not cover: an agent socket only from kefu's
  own origin (the console), a visitor socket only from its site's origins (or kefu's own).
  Without this any page an agent visits could open a socket with a leaked token.

A missing ``Origin`` is allowed: only non-browser clients (SDKs, tests, curl) omit it,
and they hold the token anyway.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from kefu.auth.principal import Principal
from kefu.config import Settings


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased; None when it has no host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class OriginPolicy:
    def __init__(self, settings: Settings) -> None:
        self._public = origin_of(settings.public_url) if settings.public_url else None
        self._sites: dict[str, frozenset[str]] = {
            site.id: frozenset(site.origins) for site in settings.sites
        }
        self._all_sites: frozenset[str] = frozenset().union(*self._sites.values())

    def is_own(self, origin: str, host: str | None) -> bool:
        """The origin is kefu's own: ``public_url``, or the host:port the request reached.

        The scheme is not compared with the request's, because behind a TLS-terminating
        proxy kefu sees http while the browser says https; the host:port is what counts.
        """
        origin = origin.lower()
        if self._public is not None and origin == self._public:
            return True
        if host is None:
            return False
        return urlsplit(origin).netloc == host.lower()

    def cors_allows(self, origin: str) -> bool:
        """A configured site's origin: may call the visitor endpoints cross-origin."""
        return origin.lower() in self._all_sites

    def site_allows(self, site_id: str | None, origin: str) -> bool:
        return origin.lower() in self._sites.get(site_id or "default", frozenset())

    def knows_site(self, site_id: str) -> bool:
        return site_id in self._sites

    def socket_allows(self, principal: Principal, origin: str | None, host: str | None) -> bool:
        if origin is None:
            return True
        if self.is_own(origin, host):
            return True
        if principal.is_agent:
            return False
        return self.site_allows(principal.site_id, origin)
