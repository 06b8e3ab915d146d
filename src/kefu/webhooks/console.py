"""Webhooks an admin adds from the console (beside the ones in config).

A config endpoint is called by the rules that name it; a console one has no rule, so it
says which events it wants (``events``: the rules' subject patterns, ``ticket.*``,
``customer.>``) and every matching event is delivered to it through the same outbox,
signing and retries. Each lives under its own settings key (``webhook.<name>``), so two
admins adding webhooks at once never overwrite each other, and every node reads the same.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from kefu.events.rules import matches
from kefu.webhooks.settings import ENDPOINT_NAME, WebhookEndpoint

KEY_PREFIX = "webhook."
MAX_PATTERNS = 20
Pattern = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=100,
        pattern=r"^(>|(\*|[a-z0-9_]+)(\.(\*|[a-z0-9_]+))*(\.>)?)$",
    ),
]


class ConsoleWebhookSpec(BaseModel):
    """What an admin gives: a name, where to POST, which events."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(max_length=40)]
    url: Annotated[str, StringConstraints(max_length=2000)]
    events: list[Pattern] = Field(min_length=1, max_length=MAX_PATTERNS)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not ENDPOINT_NAME.match(value):
            raise ValueError("lowercase letters, digits and _, starting with a letter")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        # The same rule as a configured endpoint's URL (http or https, a host).
        WebhookEndpoint(url=value, secret="x" * 16)
        return value


class ConsoleWebhook(BaseModel):
    """As stored: the spec plus its signing secret (shown to the admin once) and origin."""

    name: str
    url: str
    events: list[str]
    secret: str
    created_by: str
    created_at: str

    @property
    def endpoint(self) -> WebhookEndpoint:
        return WebhookEndpoint(url=self.url, secret=self.secret)

    def wants(self, event_type: str) -> bool:
        return any(matches(pattern, event_type) for pattern in self.events)


def new_webhook(spec: ConsoleWebhookSpec, actor: str, now: datetime) -> ConsoleWebhook:
    return ConsoleWebhook(
        name=spec.name,
        url=spec.url,
        events=list(dict.fromkeys(spec.events)),
        secret="whsec_" + secrets.token_hex(24),
        created_by=actor,
        created_at=now.isoformat(),
    )


def parse_stored(values: dict[str, Any]) -> dict[str, ConsoleWebhook]:
    """The stored webhooks by name; an unreadable row (hand-edited) is skipped."""
    found = {}
    for key, value in values.items():
        try:
            hook = ConsoleWebhook.model_validate(value)
        except ValueError:
            continue
        if key == KEY_PREFIX + hook.name:
            found[hook.name] = hook
    return found
