"""What the rest of kefu uses: enqueue in your unit of work, admin.

The rules engine calls ``enqueue`` with the unit of work that records the rule's effect;
the worker is woken once that unit committed and does the rest. Endpoint names come from
config (rules are checked against ``names`` at start, so an unknown one is a
configuration error, never a client's) or from the console (``kefu.webhooks.console``:
those subscribe to event patterns instead of being named by rules).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from kefu.domain.envelope import Event
from kefu.domain.webhooks import Delivery, DeliveryStatus, EndpointState, full_jitter
from kefu.errors import ConfigError, Conflict, NotFound
from kefu.ports import Clock
from kefu.store.settings import SettingsRepository
from kefu.store.unit_of_work import StoreUnitOfWork
from kefu.store.webhooks import WebhookRepository
from kefu.webhooks.console import (
    KEY_PREFIX,
    ConsoleWebhook,
    ConsoleWebhookSpec,
    new_webhook,
    parse_stored,
)
from kefu.webhooks.settings import WebhookEndpoint
from kefu.webhooks.worker import DRAIN_SECONDS, POLL_SECONDS, WebhookWorker


@dataclass(frozen=True, slots=True)
class EndpointView:
    """An endpoint as an admin sees it: its config (minus the secret) and its health."""

    name: str
    url: str
    state: EndpointState
    source: str = "config"  # "config" (the YAML file) or "console" (an admin added it)
    events: tuple[str, ...] = ()  # a console webhook's event patterns


class WebhookService:
    """Async context manager: entering starts this node's worker, exiting stops it."""

    def __init__(
        self,
        repo: WebhookRepository,
        endpoints: Mapping[str, WebhookEndpoint],
        clock: Clock,
        *,
        poll_seconds: float = POLL_SECONDS,
        drain_seconds: float = DRAIN_SECONDS,
        jitter: Callable[[float], float] = full_jitter,
        settings: SettingsRepository | None = None,
    ) -> None:
        self._configured = dict(endpoints)
        self._endpoints = dict(endpoints)
        self._console: dict[str, ConsoleWebhook] = {}
        self._settings = settings
        self._clock = clock
        self.repo = repo
        self._worker = WebhookWorker(
            self._endpoints,
            self.repo,
            clock,
            poll_seconds=poll_seconds,
            drain_seconds=drain_seconds,
            jitter=jitter,
        )

    async def __aenter__(self) -> WebhookService:
        await self.reload()
        await self._worker.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._worker.__aexit__(exc_type, exc, tb)

    @property
    def names(self) -> frozenset[str]:
        """The configured endpoint names: what a rule's ``webhook:`` may say."""
        return frozenset(self._configured)

    async def reload(self) -> None:
        """Read the console's webhooks again (at start, after a change here, and when
        another node announces one)."""
        if self._settings is None:
            return
        stored = parse_stored(await self._settings.with_prefix(KEY_PREFIX))
        self._console = {n: hook for n, hook in stored.items() if n not in self._configured}
        self._endpoints = {
            **self._configured,
            **{name: hook.endpoint for name, hook in self._console.items()},
        }
        await self._worker.update(self._endpoints)

    def subscribers(self, event_type: str) -> list[str]:
        """The console webhooks that asked for events of this type."""
        return [name for name, hook in self._console.items() if hook.wants(event_type)]

    async def create(self, spec: ConsoleWebhookSpec, actor: str) -> tuple[EndpointView, str]:
        """Add a console webhook; answer it and its signing secret (shown this once)."""
        if self._settings is None:
            raise RuntimeError("console webhooks need the settings repository")
        if spec.name in self._endpoints:
            raise Conflict(f"a webhook named {spec.name!r} exists", code="webhook_exists")
        hook = new_webhook(spec, actor, self._clock.now())
        if not await self._settings.insert_new(
            KEY_PREFIX + hook.name, hook.model_dump(), self._clock.now()
        ):
            raise Conflict(f"a webhook named {spec.name!r} exists", code="webhook_exists")
        await self.repo.forget(hook.name)  # a log left by an older one of that name
        await self.reload()
        return await self.endpoint(hook.name), hook.secret

    async def delete(self, name: str) -> None:
        """Remove a console webhook with its delivery log; a configured one stays (409)."""
        if name in self._configured:
            raise Conflict(
                f"{name!r} is configured in the config file; remove it there",
                code="webhook_configured",
            )
        self._known(name)
        if self._settings is not None:
            await self._settings.delete(KEY_PREFIX + name)
        await self.reload()
        await self.repo.forget(name)

    def check(self, endpoint: str) -> WebhookEndpoint:
        """The endpoint's settings; ``ConfigError`` when no endpoint has that name."""
        try:
            return self._endpoints[endpoint]
        except KeyError:
            known = ", ".join(sorted(self._endpoints)) or "none"
            raise ConfigError(
                "webhooks", f"no endpoint named {endpoint!r} (configured: {known})"
            ) from None

    async def enqueue(
        self, uow: StoreUnitOfWork, endpoint: str, event: Event, now: datetime
    ) -> None:
        """Queue ``event`` for ``endpoint`` in the caller's unit of work; the worker is
        woken once it committed.

        An event already queued for that endpoint is left as it is: it is delivered once.
        """
        self.check(endpoint)
        await uow.webhooks.enqueue(endpoint, event, now)
        uow.after_commit(self.notify)

    def notify(self) -> None:
        """Wake this node's worker: something was enqueued (and committed) or enabled."""
        self._worker.notify()

    async def endpoints(self) -> list[EndpointView]:
        states = await self.repo.states(list(self._endpoints))
        return [self._view(s) for s in states]

    async def endpoint(self, name: str) -> EndpointView:
        self._known(name)
        (state,) = await self.repo.states([name])
        return self._view(state)

    def _view(self, state: EndpointState) -> EndpointView:
        hook = self._console.get(state.name)
        if hook is None:
            return EndpointView(state.name, self._endpoints[state.name].url, state)
        return EndpointView(state.name, hook.url, state, "console", tuple(hook.events))

    async def deliveries(
        self, name: str, *, status: DeliveryStatus | None, before_id: int | None, limit: int
    ) -> list[Delivery]:
        self._known(name)
        return await self.repo.deliveries(name, status=status, before_id=before_id, limit=limit)

    async def enable(self, name: str) -> EndpointView:
        """Re-enable after the endpoint was disabled (or just reset its failure count)."""
        self._known(name)
        await self.repo.enable(name)
        self.notify()
        return await self.endpoint(name)

    async def retry(self, delivery_id: int) -> Delivery:
        """A failed delivery back to pending, due now, with its attempts starting over."""
        delivery = await self.repo.get(delivery_id)
        if delivery is None or delivery.endpoint not in self._endpoints:
            raise NotFound(f"no delivery {delivery_id}", code="delivery_not_found")
        retried = await self.repo.retry(delivery_id, self._clock.now())
        if retried is None:
            raise Conflict(
                f"delivery {delivery_id} is {delivery.status.value}; only a failed one is retried",
                code="delivery_not_failed",
            )
        self.notify()
        return retried

    def _known(self, name: str) -> None:
        if name not in self._endpoints:
            raise NotFound(f"no webhook endpoint {name!r}", code="webhook_not_found")
