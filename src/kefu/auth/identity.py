"""HMAC identity verification: proof from the host site that a visitor is customer X.

The site's backend computes hex HMAC-SHA256(identity_secret, external_id) and the widget
passes it along; without it anyone could claim any customer's id and read their 360.
"""

from __future__ import annotations

import hashlib
import hmac


def sign_external_id(secret: str, external_id: str) -> str:
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


def verify_external_id(secret: str, external_id: str, signature: str) -> bool:
    # Bytes, not str: compare_digest refuses non-ASCII str, and the signature is client input.
    expected = sign_external_id(secret, external_id).encode()
    return hmac.compare_digest(expected, signature.lower().encode("utf-8"))
