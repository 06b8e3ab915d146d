"""``kefu`` command line: serve, demo, migrate, agents."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from kefu import __version__
from kefu.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from kefu.clock import SystemClock
from kefu.config import Settings, load_settings
from kefu.domain.roles import Role
from kefu.errors import ConfigError, KefuError
from kefu.logging_setup import configure_logging

if TYPE_CHECKING:
    from kefu.node import Node
    from kefu.web.shop import ShopServer

# The node, the demo and the store are imported by the commands that use them, not here:
# importing all of kefu costs ~2.5 s of CPU, which every ``kefu agents ...`` or ``kefu
# migrate`` paid before doing a few milliseconds of work (~1 s now).

app = typer.Typer(help="kefu: customer-service platform", no_args_is_help=True)
agents_app = typer.Typer(help="Manage agents (works before the server ever ran).")
app.add_typer(agents_app, name="agents")
console = Console()

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file", exists=False)
]


def _settings(config: Path | None, **overrides: Any) -> Settings:
    try:
        settings = load_settings(config, **overrides)
    except ConfigError as exc:
        _fail(exc.message)
    configure_logging(settings.log_level)
    return settings


def _fail(message: str) -> NoReturn:
    # Plain echo, not rich: one unwrapped line that scripts and log collectors can read.
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@app.command("serve")
def serve_command(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP and WebSocket port")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="processes sharing the port, one per core (needs PostgreSQL and NATS)"),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run one node (or, with --workers N, N of them on one port) on the configured (or
    embedded default) components."""
    settings = _settings(config, host=host, port=port, workers=workers)
    if settings.workers > 1:
        _serve_workers(settings)
        return

    async def ready(node: Node, url: str) -> None:
        console.print(f"kefu {__version__} serving on [bold]{url}[/bold]  (store: {_store(node)})")

    _run_server(settings, ready)


@app.command("demo")
def demo_command(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP and WebSocket port")] = None,
    shop_port: Annotated[
        int | None, typer.Option(help="sample shop page port (default: port + 2)")
    ] = None,
    locale: Annotated[
        str,
        typer.Option(
            help="the demo's language: en, or zh-CN for a Chinese shop, customers and texts"
        ),
    ] = "en",
    config: ConfigOption = None,
) -> None:
    """Serve with demo agents, canned replies and an auto-reply, and print the logins;
    a sample shop page with the widget runs on a second port (another origin)."""
    from kefu.demo import (
        DEMO_CUSTOMER,
        DEMO_LOCALES,
        DEMO_LOGINS,
        demo_api_token,
        seed_demo,
        serve_with_shop,
        shop_port_for,
    )
    from kefu.runner import run

    if locale not in DEMO_LOCALES:
        _fail(f"--locale must be one of {', '.join(DEMO_LOCALES)}, not {locale!r}")
    settings = _settings(config, host=host, port=port)
    shop_at = shop_port if shop_port is not None else shop_port_for(settings.port)
    if settings.workers > 1:
        console.print(f"note: the demo runs one process; workers={settings.workers} is ignored")

    async def ready(node: Node, url: str, shop: ShopServer) -> None:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console) as bar:
            bar.add_task("seeding demo data (hashing passwords)…", total=None)
            await seed_demo(node, locale)
            events_token = await demo_api_token(node)
        table = Table(title=f"kefu demo on {url}")
        table.add_column("role")
        table.add_column("email")
        table.add_column("password")
        for login in DEMO_LOGINS:
            table.add_row(login.role.value, login.email, login.password)
        console.print(table)
        console.print(f"Shop page: {shop.url}/   (an anonymous visitor: click the chat button)")
        console.print(
            f"           {shop.url}/account   (signed in as customer {DEMO_CUSTOMER}: the "
            "console shows their 360 from the simulated CRM, orders and call center)"
        )
        console.print(f"Console:   {url}/console   (an agent: log in as above)")
        console.print(f"API docs:  {url}/docs")
        console.print(
            "Events (the demo's rules: a VIP upgrade, a complaint escalated to a supervisor):"
        )
        for event in (
            '{"type":"customer.upgrade","customer_key":"C1002","data":{"tier":"vip"}}',
            '{"type":"customer.complaint","customer_key":"C1001",'
            '"data":{"summary":"parcel lost","detail":"Third delivery attempt failed."}}',
        ):
            console.print(
                f"  curl -X POST {url}/api/v1/events -H 'Authorization: Bearer {events_token}'"
                f" -H 'Content-Type: application/json' -d '{event}'",
                soft_wrap=True,
            )
        refund = (
            '{"input":{"order_id":"SO-100251","amount":1165.00,"reason":"arrived broken"},'
            '"customer_key":"C1001","idempotency_key":"demo-refund-1"}'
        )
        console.print("A saga (refund across the order system, CRM, call center and a ticket):")
        console.print(
            f"  curl -X POST {url}/api/v1/sagas/refund -H 'Authorization: Bearer {events_token}'"
            f" -H 'Content-Type: application/json' -d '{refund}'",
            soft_wrap=True,
        )
        console.print(f"WebSocket: {url.replace('http', 'ws', 1)}/ws?token=…")
        console.print("Press Ctrl+C to stop.")

    try:
        run(serve_with_shop(settings, shop_at, ready, locale))
    except KefuError as exc:
        _fail(exc.message)
    except OSError as exc:
        _fail(f"cannot listen on {settings.host}:{settings.port} or :{shop_at}: {exc.strerror}")


@app.command("migrate")
def migrate_command(config: ConfigOption = None) -> None:
    """Apply pending schema migrations."""
    from kefu.store.database import Database

    settings = _settings(config)

    async def main() -> list[str]:
        async with Database(settings.store_url) as db:
            return await db.migrate()

    applied = _run(main())
    console.print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@agents_app.command("add")
def agents_add(
    email: Annotated[str, typer.Option(help="login email")],
    password: Annotated[str, typer.Option(help=f"at least {MIN_PASSWORD_LENGTH} characters")],
    name: Annotated[str, typer.Option(help="display name")],
    role: Annotated[Role, typer.Option(help="agent, supervisor or admin")] = Role.AGENT,
    capacity: Annotated[int | None, typer.Option(help="parallel conversations")] = None,
    config: ConfigOption = None,
) -> None:
    """Create an agent."""
    from kefu.store.database import Database
    from kefu.store.repositories import Repositories

    settings = _settings(config)
    if len(password) < MIN_PASSWORD_LENGTH:
        _fail(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if "@" not in email or len(email) > 320:
        _fail(f"{email!r} is not an email address")
    if not name.strip():
        _fail("name must not be empty")
    if capacity is not None and capacity < 1:
        _fail("capacity must be at least 1")

    async def main() -> str:
        async with Database(settings.store_url) as db:
            await db.migrate()
            agent = await Repositories.over(db).agents.create(
                email=email,
                name=name.strip(),
                role=role,
                password_hash=await asyncio.to_thread(hash_password, password),
                capacity=capacity,
                now=_now(),
            )
            return agent.id

    console.print(f"created agent {_run(main())} ({role.value})")


@agents_app.command("list")
def agents_list(config: ConfigOption = None) -> None:
    """List agents."""
    from kefu.store.database import Database
    from kefu.store.repositories import Repositories

    settings = _settings(config)

    async def main() -> list[Any]:
        async with Database(settings.store_url) as db:
            await db.migrate()
            return await Repositories.over(db).agents.list()

    columns = ("id", "email", "name", "role", "capacity", "disabled")
    rows = [
        (
            agent.id,
            agent.email,
            agent.name,
            agent.role.value,
            str(agent.capacity or "default"),
            "yes" if agent.disabled else "no",
        )
        for agent in _run(main())
    ]
    if not console.is_terminal:
        # Piped: one tab-separated line per agent, never wrapped, so grep and cut work.
        for line in (columns, *rows):
            typer.echo("\t".join(line))
        return
    table = Table()
    for column in columns:
        table.add_column(column, no_wrap=column in ("id", "email"))
    for row in rows:
        table.add_row(*row)
    console.print(table)


@agents_app.command("disable")
def agents_disable(
    email: Annotated[str, typer.Option(help="login email of the agent")],
    config: ConfigOption = None,
) -> None:
    """Disable an agent: it can no longer log in and its tokens stop working."""
    from kefu.store.database import Database
    from kefu.store.repositories import Repositories

    settings = _settings(config)

    async def main() -> str:
        async with Database(settings.store_url) as db:
            await db.migrate()
            repos = Repositories.over(db)
            found = await repos.agents.by_email(email)
            if found is None:
                _fail(f"no agent with email {email!r}")
            await repos.agents.update(found[0].id, disabled=True)
            return found[0].id

    console.print(f"disabled agent {_run(main())}")


def _serve_workers(settings: Settings) -> None:
    from kefu.runner import run
    from kefu.workers import serve_workers

    async def ready(url: str) -> None:
        console.print(
            f"kefu {__version__} serving on [bold]{url}[/bold] with {settings.workers} workers"
            "  (store: postgresql)",
            soft_wrap=True,
        )

    try:
        stopped = run(serve_workers(settings, ready))
    except KefuError as exc:
        _fail(exc.message)
    except OSError as exc:
        _fail(f"store unreachable: {exc}")
    if stopped.problem is not None:
        typer.echo(f"error: {stopped.problem}", err=True)
    raise typer.Exit(stopped.code)


def _run_server(settings: Settings, ready: Any) -> None:
    from kefu.runner import run, serve

    try:
        run(serve(settings, on_ready=ready))
    except KefuError as exc:
        _fail(exc.message)
    except OSError as exc:
        _fail(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}")


def _run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except KefuError as exc:
        _fail(exc.message)
    except OSError as exc:
        _fail(f"store unreachable: {exc}")


def _store(node: Node) -> str:
    return node.repos.db.dialect


def _now() -> datetime:
    return SystemClock().now()
