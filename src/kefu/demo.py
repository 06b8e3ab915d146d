"""Demo data (agents of each role, canned replies, an auto-reply, created once) and the
demo run: kefu plus a sample shop on a second port with the widget on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kefu.auth.passwords import hash_password_async
from kefu.config import Settings, SiteSettings
from kefu.domain.roles import Role
from kefu.node import Node
from kefu.runner import serve
from kefu.web.shop import SITE_ID, ShopServer


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

DEMO_CANNED = (
    ("hello", "Greeting", "Hello! How can I help you today?"),
    ("order", "Order status", "Let me look up your order. Could you give me the order number?"),
    ("refund", "Refund policy", "Refunds reach your account 3-5 business days after approval."),
    ("bye", "Closing", "Thanks for contacting us. Have a great day!"),
)


async def seed_demo(node: Node) -> None:
    repos = node.repos
    now = node.clock.now()
    for login in DEMO_LOGINS:
        if await repos.agents.by_email(login.email) is None:
            await repos.agents.create(
                email=login.email,
                name=login.name,
                role=login.role,
                password_hash=await hash_password_async(login.password),
                now=now,
            )
    existing = {c.shortcut for c in await repos.canned.list()}
    for shortcut, title, body in DEMO_CANNED:
        if shortcut not in existing:
            await repos.canned.create(shortcut=shortcut, title=title, body=body, now=now)
    if not await repos.auto_replies.list():
        await repos.auto_replies.create(
            ["opening hours", "open today"],
            "We are open Monday to Friday, 9:00-18:00. An agent will confirm shortly.",
            now,
        )
    await node.chat.start()


def shop_port_for(port: int) -> int:
    """kefu's port + 2 (+1 is gRPC); a random port when kefu's is random too."""
    return 0 if port == 0 else port + 2


async def serve_with_shop(
    settings: Settings,
    shop_port: int,
    on_ready: Callable[[Node, str, ShopServer], Awaitable[None]],
) -> None:
    """Serve kefu with the sample shop beside it, its origin registered as a site."""
    async with ShopServer(settings.host, shop_port) as shop:
        site = SiteSettings(id=SITE_ID, name="Demo shop", origins=shop.origins)
        others = [s for s in settings.sites if s.id != SITE_ID]
        with_shop = settings.model_copy(update={"sites": [*others, site]})

        async def ready(node: Node, url: str) -> None:
            shop.kefu_url = url
            await on_ready(node, url, shop)

        await serve(with_shop, on_ready=ready)
