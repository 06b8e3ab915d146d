"""Demo data: agents of each role, canned replies and an auto-reply, created once."""

from __future__ import annotations

from dataclasses import dataclass

from kefu.auth.passwords import hash_password_async
from kefu.domain.roles import Role
from kefu.node import Node


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
