"""The composition root: the one place that turns ``Settings`` into running parts.

Everything with a connection or a task is entered here as an async context manager, in
dependency order, and torn down in reverse on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any

from kefu.attachments.links import DownloadLinks
from kefu.attachments.service import AttachmentService
from kefu.attachments.storage import BlobStore
from kefu.attachments.sweep import UnsentSweep
from kefu.auth.api_tokens import ApiTokens
from kefu.auth.origins import OriginPolicy
from kefu.auth.passwords import Argon2Hasher
from kefu.auth.secret import load_or_create_secret
from kefu.auth.service import AuthService
from kefu.auth.throttle import LoginThrottle
from kefu.auth.tokens import TokenSigner
from kefu.cache.memory import MemoryCache
from kefu.cache.redis import RedisCache
from kefu.chat.blacklist import Blacklist
from kefu.chat.hub import Hub
from kefu.chat.service import ChatService
from kefu.chat.sites import Sites
from kefu.clock import SystemClock
from kefu.cluster.heartbeat import every
from kefu.cluster.relay import LiveRelay, node_name
from kefu.config import Settings
from kefu.email.service import EmailService, email_rules
from kefu.events.log import EventLog
from kefu.events.outbox import audience
from kefu.events.processor import (
    CONSUMER,
    EventProcessor,
    SagaEffects,
    TicketEffects,
    WebhookEffects,
)
from kefu.events.relay import OutboxRelay
from kefu.events.retention import run_pruner
from kefu.events.rules import Rule, compile_rules
from kefu.events.settings import EventSettings
from kefu.events.store_log import LANES, StoreEventLog
from kefu.forwarded import ClientAddress
from kefu.node import Node
from kefu.observability.logs import keep_urls_out_of_logs
from kefu.observability.looplag import LoopLagMonitor
from kefu.ports import Cache, Clock, MessageAppender, PasswordHasher
from kefu.privacy.erasure import Eraser
from kefu.privacy.retention import Retention
from kefu.rule_adapters import customer_loader, live_notifier
from kefu.sagas.definitions import ActionBuilder
from kefu.sagas.kefu_actions import NodeKefuActions
from kefu.sagas.runtime import action_builder, running_sagas
from kefu.store.customer_tickets import CustomerTickets
from kefu.store.database import Database
from kefu.store.erasure import ErasureRepository
from kefu.store.event_log import OutboxLogStore
from kefu.store.messages import BatchCommit, MessageWriter
from kefu.store.outbox import OutboxRepository
from kefu.store.postgres_batch import PostgresCommitter
from kefu.store.private_files import secure_data_dir
from kefu.store.processed_events import ProcessedEvents
from kefu.store.repositories import Repositories
from kefu.store.shared_assignment import SharedAssignments
from kefu.store.sqlite_writer import SqliteMessageWriter
from kefu.store.unit_of_work import unit_of_work_factory
from kefu.store.webhooks import WebhookRepository
from kefu.tickets.rule_effects import RuleTickets
from kefu.tickets.service import TicketService
from kefu.tickets.sla_watch import SlaWatcher
from kefu.unify.build import build_customer360, describe
from kefu.unify.service import Customer360
from kefu.webhooks.service import WebhookService

log = logging.getLogger(__name__)


def make_cache(url: str) -> MemoryCache | RedisCache:
    if url.startswith("memory://"):
        return MemoryCache()
    return RedisCache(url)


# How stale another node's list of console webhooks can be without a cluster bus.
WEBHOOKS_RELOAD_SECONDS = 10.0


def reloader(
    chat: ChatService, blacklist: Blacklist, webhooks: WebhookService
) -> Callable[[str], Coroutine[Any, Any, None]]:
    """What another node's ``Reload`` signal re-reads here."""

    async def reload(what: str) -> None:
        try:
            if what == "blacklist":
                await blacklist.refresh()
            elif what == "auto_replies":
                await chat.reload_auto_replies()
            elif what == "webhooks":
                await webhooks.reload()
            else:
                log.warning("cluster: another node asked to reload unknown %r", what)
        except Exception:
            log.exception("cluster: reloading %s failed; it stays as it was", what)

    return reload


def _ran(retention: Retention) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        await retention.run_once()

    return run


def _swept(sweep: UnsentSweep) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        await sweep.run_once()

    return run


@contextlib.asynccontextmanager
async def running_events(
    db: Database,
    clock: Clock,
    settings: EventSettings,
    rules: Sequence[Rule],
    *,
    bus_url: str,
    customers: Customer360,
    hub: Hub,
    tickets: TicketEffects | None,
    webhooks: WebhookEffects | None,
    sagas: SagaEffects | None = None,
) -> AsyncIterator[EventLog]:
    """The node's events machinery, started and stopped as one unit: yield the event log
    (JetStream with ``bus: nats://``, else the store's outbox) while the rules consumer,
    the processed-ids pruner and, with JetStream, the outbox relay run behind it."""
    async with contextlib.AsyncExitStack() as stack:
        tasks: list[asyncio.Task[None]] = []
        event_log: EventLog
        processed = ProcessedEvents(db)
        if bus_url.startswith("nats://"):
            from kefu.bus.jetstream import JetStreamEventLog  # nats-py only when configured

            jetstream = await stack.enter_async_context(
                JetStreamEventLog(bus_url, settings, lanes=LANES.get(db.dialect, 1))
            )
            relay = OutboxRelay(OutboxRepository(db), jetstream, batch=settings.batch)
            tasks.append(asyncio.create_task(relay.run()))
            event_log, wake, handoff = jetstream, relay.wake, None
        else:
            store_log = StoreEventLog(
                OutboxLogStore(db),
                clock,
                batch=settings.batch,
                max_attempts=settings.max_attempts,
                backoff_seconds=settings.jetstream.backoff_seconds,
            )
            stack.push_async_callback(store_log.close)
            event_log, wake, handoff = store_log, store_log.wake, store_log.handoff
        processor = EventProcessor(
            unit_of_work_factory(db, collect=handoff is not None),
            rules,
            clock,
            processed=processed,
            customer=customer_loader(customers),
            tickets=tickets,
            webhooks=webhooks,
            notify=live_notifier(hub),
            sagas=sagas,
            max_attempts=settings.max_attempts,
            wake=wake,
            handoff=handoff,
        )
        tasks.append(asyncio.create_task(event_log.consume(CONSUMER, processor.handle)))
        keep = timedelta(hours=settings.dedupe_retention_hours)
        tasks.append(asyncio.create_task(run_pruner(processed, clock, keep)))
        try:
            yield event_log
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


@contextlib.asynccontextmanager
async def running_node(
    settings: Settings,
    *,
    migrate: bool = True,
    clock: Clock | None = None,
    cache: Cache | None = None,
    password_hasher: PasswordHasher | None = None,
    saga_actions: ActionBuilder | None = None,
) -> AsyncIterator[Node]:
    """Migrate the store, start every part, yield the node; stop everything on exit.

    ``migrate=False``: someone already did (``kefu serve --workers``: the parent, once).
    ``clock``, ``cache`` and ``password_hasher`` replace what ``settings`` would choose
    (tests wire fakes here instead of rebuilding services); a cache passed in stays its
    caller's to close. ``saga_actions`` builds the sagas' step actions instead of the
    connectors (tests run sagas against small systems of their own).
    """
    # Before anything writes there: data dir 0700, kefu's files in it 0600.
    await asyncio.to_thread(secure_data_dir, settings.data_dir)
    keep_urls_out_of_logs()  # they may hold customer data (kefu.observability.logs)
    passwords = password_hasher or Argon2Hasher()
    clock = clock or SystemClock()
    async with contextlib.AsyncExitStack() as stack:
        if cache is None:
            made = make_cache(settings.cache)
            stack.push_async_callback(made.close)
            cache = made
        db = await stack.enter_async_context(Database(settings.store_url))
        applied = await db.migrate() if migrate else []
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        repos = Repositories.over(db)
        writer: MessageAppender
        if db.dialect == "sqlite":
            # Its writer thread takes the batches itself (kefu.store.sqlite_writer).
            writer = await stack.enter_async_context(SqliteMessageWriter(db))
        else:
            lanes: list[BatchCommit] = []
            for _ in range(settings.store_write_lanes):
                postgres = PostgresCommitter(db)
                stack.push_async_callback(postgres.close)  # after the writer has drained
                lanes.append(postgres)
            writer = await stack.enter_async_context(MessageWriter(lanes))
        await stack.enter_async_context(LoopLagMonitor())
        secret = load_or_create_secret(settings.data_dir, settings.auth.secret_key)
        signer = TokenSigner(
            secret,
            agent_ttl=timedelta(hours=settings.auth.agent_token_hours),
            visitor_ttl=timedelta(days=settings.auth.visitor_token_days),
        )
        throttle = LoginThrottle(
            cache,
            per_ip_per_minute=settings.auth.login_per_ip_per_minute,
            failures_per_account=settings.auth.login_failures_per_account,
            lockout=settings.auth.login_lockout_seconds,
        )
        auth = AuthService(
            repos,
            signer,
            throttle,
            clock,
            settings.auth.identity_secret,
            visitors_per_minute=settings.auth.visitors_per_ip_per_minute,
            site_secrets={site.id: site.identity_secret for site in settings.sites},
            passwords=passwords,
        )
        hub = Hub()
        blobs = BlobStore(settings.data_dir / "attachments")
        links = DownloadLinks(secret, clock, settings.attachments.download_url_seconds)
        attachments = AttachmentService(
            repos.attachments, blobs, clock, settings.attachments, links
        )
        sweep = UnsentSweep(
            repos.attachments,
            blobs,
            clock,
            timedelta(hours=settings.attachments.unsent_max_age_hours),
        )
        await stack.enter_async_context(
            every(settings.attachments.sweep_seconds, _swept(sweep), "unsent upload sweep")
        )
        eraser = Eraser(ErasureRepository(db), blobs)
        if settings.privacy.retention_days is not None:
            retention = Retention(eraser, clock, repos.audit, settings.privacy.retention_days)
            await stack.enter_async_context(
                every(settings.privacy.retention_check_seconds, _ran(retention), "retention")
            )
        blacklist = Blacklist(repos.blacklist)
        await blacklist.refresh()
        clustered = settings.bus.startswith("nats://")
        shared = None
        if clustered and db.dialect == "postgresql":
            shared = SharedAssignments(
                db,
                node_id=f"{node_name()}:{secrets.token_hex(4)}",
                default_capacity=settings.chat.agent_capacity,
                presence_ttl=timedelta(seconds=settings.cluster.presence_ttl_seconds),
            )
        webhooks = await stack.enter_async_context(
            WebhookService(WebhookRepository(db), settings.webhooks, clock, settings=repos.settings)
        )
        # Console webhooks added on another node or worker: read again now and then (the
        # cluster's Reload signal is sooner, but a node without NATS has none).
        await stack.enter_async_context(
            every(WEBHOOKS_RELOAD_SECONDS, webhooks.reload, "console webhooks reload")
        )
        sites = Sites(settings.sites, repos.settings)
        chat = ChatService(
            repos, writer, hub, clock, settings.chat, attachments, shared, sites=sites
        )
        if clustered:
            relay = LiveRelay(settings.bus, settings.cluster, name=f"kefu-{node_name()}")
            stack.push_async_callback(relay.close)
            hub.attach(
                relay,
                conversation_changed=chat.forget_cached,
                reload=reloader(chat, blacklist, webhooks),
            )
            await relay.start(hub.receive)
        await chat.start()
        if shared is not None:
            stack.push_async_callback(chat.depart)
            await stack.enter_async_context(
                every(settings.cluster.heartbeat_seconds, chat.heartbeat, "cluster heartbeat")
            )
        rules = compile_rules(
            [*settings.rules, *email_rules(settings.email)], set(settings.webhooks)
        )
        units = unit_of_work_factory(db)
        email = EmailService(db, settings, clock) if settings.email is not None else None
        tickets = TicketService(
            repos,
            units,
            clock,
            settings.tickets,
            audience=audience(settings.bus, rules, webhooks.subscribers),
            hub=hub,
            on_comment=email.comments if email is not None else None,
            site_locales={site.id: site.locale for site in settings.sites},
        )
        if email is not None:
            email.bind(tickets, attachments, units)
            await stack.enter_async_context(email)
        await stack.enter_async_context(
            SlaWatcher(
                units,
                repos.tickets,
                tickets.rules,
                clock,
                settings.tickets.sla_check_seconds,
                feed=tickets.live,
            )
        )
        customers = await build_customer360(
            settings.sources, settings.customer360, cache, clock, CustomerTickets(db)
        )
        stack.push_async_callback(customers.close)
        if settings.sources:
            log.info("customer 360 sources: %s", describe(settings.sources))
        own = NodeKefuActions(db, units, tickets, hub, clock)
        sagas = await stack.enter_async_context(
            running_sagas(
                settings.sagas,
                settings.saga_engine,
                db,
                units,
                clock,
                hub,
                saga_actions or action_builder(settings.sources, own),
                wanted=audience(settings.bus, rules, webhooks.subscribers),
            )
        )
        events = await stack.enter_async_context(
            running_events(
                db,
                clock,
                settings.events,
                rules,
                bus_url=settings.bus,
                customers=customers,
                hub=hub,
                tickets=RuleTickets(tickets),
                webhooks=webhooks,
                sagas=sagas.engine,
            )
        )
        yield Node(
            settings=settings,
            clock=clock,
            repos=repos,
            writer=writer,
            cache=cache,
            hub=hub,
            auth=auth,
            chat=chat,
            blacklist=blacklist,
            client_address=ClientAddress(settings.trusted_proxies),
            attachments=attachments,
            tickets=tickets,
            origins=OriginPolicy(settings),
            customers=customers,
            webhooks=webhooks,
            events=events,
            api_tokens=ApiTokens(repos.api_tokens, clock),
            eraser=eraser,
            passwords=passwords,
            sagas=sagas,
            email=email,
        )
