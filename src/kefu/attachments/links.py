"""Short-lived download links, each signed for one attachment.

A browser cannot put a bearer header on ``<img src>`` or a link, and a token in a URL
ends up in history, proxy logs and Referer headers, where it opens everything its agent
may open until it expires. A link instead carries ``exp`` (Unix seconds) and ``sig``
(HMAC-SHA256 over the attachment id and ``exp``, keyed from the node's secret, which all
nodes share): copied anywhere, it opens that one file, for minutes.

Holding a link is the permission: it is handed out only in payloads that go to those who
may read the attachment (the message that carries it, the uploader's own upload answer).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math

from kefu.errors import Forbidden
from kefu.ports import Clock

# Expiries are rounded up to this step, so every payload built within a minute carries
# the same URL for a file and browsers' caches hit as the console re-renders; a link thus
# lives between ``ttl`` and ``ttl`` plus this.
STEP_SECONDS = 60
# Domain separation: the node secret also signs tokens; a link's key is derived from it
# so a signature made for one purpose can never pass for the other.
KEY_LABEL = b"kefu attachment download link v1"
# Digits of a Unix time in seconds until the year 2286; more is not an expiry.
MAX_EXP_DIGITS = 10


class LinkRefused(Forbidden):
    code = "invalid_link"


class DownloadLinks:
    def __init__(self, secret: str, clock: Clock, ttl_seconds: int) -> None:
        self._key = hmac.new(secret.encode(), KEY_LABEL, hashlib.sha256).digest()
        self._clock = clock
        self._ttl = ttl_seconds

    def url(self, attachment_id: str) -> str:
        """``/api/v1/attachments/{id}?exp=…&sig=…``, relative to kefu's origin."""
        now = self._clock.now().timestamp()
        exp = math.ceil((now + self._ttl) / STEP_SECONDS) * STEP_SECONDS
        return f"/api/v1/attachments/{attachment_id}?exp={exp}&sig={self._sign(attachment_id, exp)}"

    def verify(self, attachment_id: str, exp: str, sig: str) -> None:
        """Raise :class:`LinkRefused` unless ``sig`` signs this id and ``exp``, and ``exp``
        has not passed."""
        if not exp.isascii() or not exp.isdigit() or len(exp) > MAX_EXP_DIGITS:
            raise LinkRefused("this download link is not valid")
        expected = self._sign(attachment_id, int(exp))
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            raise LinkRefused("this download link is not valid")
        if int(exp) < self._clock.now().timestamp():
            raise LinkRefused("this download link has expired", code="link_expired")

    def _sign(self, attachment_id: str, exp: int) -> str:
        mac = hmac.new(self._key, f"{attachment_id}\n{exp}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")
