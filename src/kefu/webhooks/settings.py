"""The ``webhooks:`` section: endpoints that rules can call by name."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

ENDPOINT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# RFC 9110 token characters.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class WebhookEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    # HMAC-SHA256 key of the signature header; the receiver holds the same.
    secret: str = Field(min_length=16)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Deliveries of one event before it is marked failed (exponential backoff between).
    max_attempts: int = Field(default=8, ge=1, le=50)
    backoff_seconds: float = Field(default=5.0, gt=0, le=3600)
    max_backoff_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    # Failed attempts in a row (any event) after which the endpoint is disabled until an
    # admin enables it again; its deliveries wait meanwhile.
    disable_after_failures: int = Field(default=20, ge=1, le=10_000)
    # Deliveries in flight to this endpoint at once: a receiver is never flooded, and one
    # slow endpoint cannot hold every sending slot of the node.
    concurrency: int = Field(default=4, ge=1, le=64)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return check_headers(value)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value


def check_headers(value: dict[str, str]) -> dict[str, str]:
    """Refuse at start what httpx would refuse on every send (the delivery then failing
    for a reason no receiver can fix)."""
    for name, text in value.items():
        if not HEADER_NAME.fullmatch(name):
            raise ValueError(f"header name {name!r} is not an HTTP token")
        if not text.isprintable() or not text.isascii():
            raise ValueError(f"header {name!r}: the value must be printable ASCII")
    return value


def check_endpoints(value: dict[str, WebhookEndpoint]) -> dict[str, WebhookEndpoint]:
    for name in value:
        if not ENDPOINT_NAME.match(name):
            raise ValueError(
                f"webhook name {name!r} must be lowercase letters, digits and _, "
                "starting with a letter (at most 40)"
            )
    return value
