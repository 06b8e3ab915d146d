"""Demo data (agents of each role, canned replies, an auto-reply, created once) and the
demo run: kefu plus a sample shop on a second port with the widget on it. ``locale``
``zh-CN`` makes it a Chinese shop: page, site locale, department data and the texts of
``kefu.demo_texts``."""

from __future__ import annotations

import contextlib
import copy
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kefu.auth.identity import sign_external_id
from kefu.config import Settings, SiteSettings, restore_settings, snapshot_settings
from kefu.demo_systems.callcenter import running_callcenter
from kefu.demo_systems.crm import running_crm
from kefu.demo_systems.dataset import build_dataset
from kefu.demo_systems.orders import seed_orders
from kefu.demo_systems.orders_api import running_orders_api
from kefu.demo_systems.refund_saga import demo_sagas
from kefu.demo_systems.sources import demo_sources
from kefu.demo_texts import LOCALES, DemoTexts, demo_texts, localized_sagas
from kefu.domain.roles import Role
from kefu.node import Node
from kefu.runner import serve
from kefu.web.shop import SITE_ID, ShopServer

# What `kefu demo --locale` accepts.
DEMO_LOCALES = LOCALES


@dataclass(frozen=True, slots=True)
class DemoLogin:
    email: str
    password: str
    role: Role
    name: str


DEMO_LOGINS = (
    DemoLogin("admin@kefu.demo", "kefu-admin", Role.ADMIN, "Ada Admin"),
    DemoLogin("supervisor@kefu.demo", "kefu-super", Role.SUPERVISOR, "Sam Supervisor"),
    DemoLogin("agent@kefu.demo", "kefu-agent", Role.AGENT, "Alex Agent"),
    DemoLogin("agent2@kefu.demo", "kefu-agent", Role.AGENT, "Bea Agent"),
)


async def seed_demo(node: Node, locale: str = "en") -> None:
    """Created once: a data directory seeded in one language keeps its agents, canned
    replies and auto-reply when the demo is run again in another."""
    texts = demo_texts(locale)
    repos = node.repos
    now = node.clock.now()
    for login in DEMO_LOGINS:
        if await repos.agents.by_email(login.email) is None:
            await repos.agents.create(
                email=login.email,
                name=texts.agent_names.get(login.email, login.name),
                role=login.role,
                password_hash=await node.passwords.hash(login.password),
                now=now,
            )
    existing = {c.shortcut for c in await repos.canned.list()}
    for shortcut, title, body in texts.canned:
        if shortcut not in existing:
            await repos.canned.create(shortcut=shortcut, title=title, body=body, now=now)
    if not await repos.auto_replies.list():
        await repos.auto_replies.create(list(texts.auto_reply_keywords), texts.auto_reply, now)
    await node.chat.start()


async def demo_api_token(node: Node) -> str:
    """A fresh events:write + sagas:write token for this run (the previous run's is
    revoked): what the printed curl examples use, as a department system would."""
    for token in await node.api_tokens.list():
        if token.name == DEMO_TOKEN_NAME and token.revoked_at is None:
            await node.api_tokens.revoke(token.id)
    _, secret = await node.api_tokens.create(
        DEMO_TOKEN_NAME, ["events:write", "sagas:write"], "demo"
    )
    return secret


def shop_port_for(port: int) -> int:
    """kefu's port + 2 (+1 is gRPC); a random port when kefu's is random too."""
    return 0 if port == 0 else port + 2


# The demo shop's signed-in customer: the richest one in the simulated systems.
DEMO_CUSTOMER = "C1001"


# The seed's two routing examples, working out of the box (docs/events.md explains them).
def demo_rules(texts: DemoTexts) -> list[dict[str, Any]]:
    """The demo's rules, their ticket and notification texts in the demo's language."""
    rules = copy.deepcopy(DEMO_RULES)
    rules[0]["do"][1]["notify"]["message"] = texts.vip_notice
    rules[1]["do"][0]["create_ticket"]["subject"] = texts.complaint_subject
    rules[1]["do"][1]["notify"]["message"] = texts.complaint_notice
    return rules


DEMO_RULES: list[dict[str, Any]] = [
    {
        "name": "vip-service",
        "on": "customer.upgrade",
        "when": ['data.tier == "vip"'],
        "do": [
            {"route_customer": {"queue": "vip"}},
            {
                "notify": {
                    "role": "supervisor",
                    "message": (
                        "{customer.name|A customer} ({customer_key}) is now VIP:"
                        " their chats go first"
                    ),
                }
            },
        ],
    },
    {
        "name": "complaint-escalation",
        "on": "customer.complaint",
        # A complaint without a customer or a summary is refused at POST (422), never a
        # ticket "Complaint:" for nobody.
        "require": ["customer_key", "data.summary"],
        "do": [
            {
                "create_ticket": {
                    "subject": "Complaint: {data.summary}",
                    "body": "{data.detail}",
                    "priority": "high",
                    "role": "supervisor",
                    "queue": "managers",
                }
            },
            {
                "notify": {
                    "role": "supervisor",
                    "message": (
                        "Complaint from {customer.name|a customer} ({customer_key}): {data.summary}"
                    ),
                }
            },
        ],
    },
]
DEMO_RULES.append(
    {
        "name": "offline-to-ticket",
        "on": "offline_message.created",
        "do": [{"ticket_from_offline_message": {"priority": "normal"}}],
    }
)
DEMO_TOKEN_NAME = "demo department systems"  # noqa: S105 - a label, not a secret


@contextlib.asynccontextmanager
async def department_systems(
    settings: Settings, locale: str = "en"
) -> AsyncIterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The simulated CRM (REST), call center (SOAP), orders database (SQLite) and the
    order system's API over it, running on loopback with a department system's latency;
    yields their ``sources:`` config and the refund saga's ``sagas:`` config. Their data
    is told in ``locale``'s words (the same customers and orders)."""
    dataset = build_dataset(locale=locale)
    # One orders file per language: a data directory may have run the other demo.
    orders_file = "demo-orders.db" if locale == "en" else f"demo-orders-{locale}.db"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    orders_url = f"sqlite+aiosqlite:///{settings.data_dir / orders_file}"
    await seed_orders(orders_url, dataset)
    host = settings.host
    async with (
        running_crm(host, 0, dataset=dataset, latency_ms=35, jitter_ms=15) as crm,
        running_callcenter(host, 0, dataset=dataset, latency_ms=120, jitter_ms=40) as calls,
        running_orders_api(orders_url, host, 0, latency_ms=40, jitter_ms=15) as orders_api,
    ):
        # kefu's own tickets beside the departments' data (a new one shows within 5 s).
        sources = demo_sources(crm, calls, orders_url) | {
            "tickets": {"connector": "kefu_tickets", "ttl_seconds": 5}
        }
        yield sources, localized_sagas(demo_sagas(orders_api), demo_texts(locale))


async def serve_with_shop(
    settings: Settings,
    shop_port: int,
    on_ready: Callable[[Node, str, ShopServer], Awaitable[None]],
    locale: str = "en",
) -> None:
    """Serve kefu with the sample shop beside it, its origin registered as a site, and the
    simulated department systems as the 360's sources (unless the config names real ones).

    The shop's /account page is a signed-in customer: its widget tag carries the
    customer's key signed with the site's identity secret, so the console shows their 360.
    ``locale`` zh-CN: the Chinese shop page, the site's locale, Chinese department data,
    rules and saga texts.
    """
    texts = demo_texts(locale)
    async with contextlib.AsyncExitStack() as stack:
        sources: Any = settings.sources
        sagas: Any = settings.sagas
        if not sources:
            sources, refund = await stack.enter_async_context(department_systems(settings, locale))
            # The demo's refund saga acts on the simulated systems: only beside them.
            sagas = sagas or refund
        identity_secret = secrets.token_hex(32)
        signed_in = (DEMO_CUSTOMER, sign_external_id(identity_secret, DEMO_CUSTOMER))
        shop = await stack.enter_async_context(
            ShopServer(settings.host, shop_port, signed_in=signed_in, locale=locale)
        )
        site = SiteSettings(
            id=SITE_ID,
            name=texts.shop_name,
            origins=shop.origins,
            identity_secret=identity_secret,
            locale="zh-CN" if locale == "zh-CN" else "en",
        )
        others = [s for s in settings.sites if s.id != SITE_ID]
        rules = settings.rules or demo_rules(texts)
        # From what was written, with the environment off: validating a full dump would
        # read KEFU_* again (beating the command line's --port) and count every default
        # as written.
        with_shop = restore_settings(
            snapshot_settings(settings)
            | {"sites": [*others, site], "sources": sources, "rules": rules, "sagas": sagas}
        )

        async def ready(node: Node, url: str) -> None:
            shop.kefu_url = url
            await on_ready(node, url, shop)

        await serve(with_shop, on_ready=ready)
