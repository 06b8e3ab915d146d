"""The sender: claims due deliveries, POSTs them signed, records each outcome.

One per node. It wakes when told something was enqueued (``notify``), when a send
finishes (a slot is free), at the next retry it knows of, and at least every
``poll_seconds`` for rows other nodes scheduled. Every step is a coroutine (httpx, the
async store): nothing here holds the event loop.

Bounds: at most ``MAX_IN_FLIGHT`` sends per node and ``concurrency`` per endpoint. Rows
beyond that stay in the store, unclaimed, until a slot frees: the backlog lives on disk,
never in memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType

import httpx

from kefu import __version__
from kefu.background import Background, Loop
from kefu.domain.webhooks import Claimed, backoff_seconds, full_jitter
from kefu.ports import Clock
from kefu.store.webhooks import WebhookRepository
from kefu.webhooks.settings import WebhookEndpoint
from kefu.webhooks.signing import (
    DELIVERY_ID_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_header,
)

log = logging.getLogger(__name__)

USER_AGENT = f"kefu-webhooks/{__version__}"
# Sends in flight per node: enough to keep many endpoints busy, few enough that the
# sockets and tasks stay negligible beside the chat traffic the node is there for.
MAX_IN_FLIGHT = 64
# Other nodes' deliveries (and this node's after a restart) are found by polling; a
# couple of seconds is prompt for a webhook and one cheap indexed query per interval.
POLL_SECONDS = 2.0
# A claimed delivery is leased for twice its timeout plus this: time to record the
# outcome after a slow reply. A node that died mid-send loses the lease this long after.
LEASE_MARGIN_SECONDS = 30.0
# On shutdown, sends in flight get this long to finish before they are cancelled (a
# cancelled one is sent again once its lease runs out).
DRAIN_SECONDS = 5.0
# Enough of a failed reply's body to tell an operator what the receiver said.
ERROR_BODY_BYTES = 200


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST came to: ``error`` is None exactly when it was delivered (a 2xx)."""

    status_code: int | None  # None: no reply at all (refused, reset, timed out)
    error: str | None


class WebhookWorker:
    """Async context manager owning the sending loop, the sends in flight and their HTTP client."""

    def __init__(
        self,
        endpoints: Mapping[str, WebhookEndpoint],
        repo: WebhookRepository,
        clock: Clock,
        *,
        poll_seconds: float = POLL_SECONDS,
        drain_seconds: float = DRAIN_SECONDS,
        jitter: Callable[[float], float] = full_jitter,
    ) -> None:
        self._endpoints = dict(endpoints)
        self._names = list(self._endpoints)
        self._repo = repo
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._jitter = jitter
        self._in_flight: dict[str, int] = dict.fromkeys(self._names, 0)
        self._background = Background("webhooks")
        self._sends = self._background.children(
            "kefu-webhook-sends", limit=MAX_IN_FLIGHT, drain_seconds=drain_seconds
        )
        self._loop: Loop | None = None
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> WebhookWorker:
        await self._background.__aenter__()
        try:
            await self._start_if_needed()
        except BaseException as exc:
            await self._background.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def update(self, endpoints: Mapping[str, WebhookEndpoint]) -> None:
        """The endpoints changed (an admin added or removed one): send to these from now
        on. Sends in flight to a removed one finish; its rows are no longer claimed."""
        added = [name for name in endpoints if name not in self._endpoints]
        self._endpoints = dict(endpoints)
        self._names = list(self._endpoints)
        for name in self._names:
            self._in_flight.setdefault(name, 0)
        if self._loop is not None and added:
            await self._repo.ensure_endpoints(added)
        if self._background.running:
            await self._start_if_needed()
        self.notify()

    async def _start_if_needed(self) -> None:
        if not self._endpoints or self._loop is not None:
            return  # nothing to send to (no task, no polling), or already running
        await self._repo.ensure_endpoints(self._names)
        self._client = httpx.AsyncClient(
            # Redirects are failures, never followed: the configured URL is the receiver.
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT
            ),
        )
        # A failed look (the store is unreachable, a query failed) loses nothing: the rows
        # are still there, so it is logged and tried again a poll later.
        self._loop = self._background.loop(
            "kefu-webhooks", self._dispatch, retry_seconds=self._poll_seconds
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._background.__aexit__(exc_type, exc, tb)
        if self._client is not None:
            await self._client.aclose()

    def notify(self) -> None:
        """Look for due deliveries now (call after the transaction that enqueued commits)."""
        if self._loop is not None:
            self._loop.wake()

    async def _dispatch(self) -> float:
        """Claim and start what is due; return how long to sleep before looking again."""
        due = await self._repo.due_times(self._names)
        now = self._clock.now()
        sleep = self._poll_seconds
        started = False
        for name, at in due.items():
            endpoint = self._endpoints.get(name)
            if endpoint is None:
                continue  # removed by an admin while we looked
            free = min(
                endpoint.concurrency - self._in_flight.get(name, 0),
                self._sends.free,
            )
            if free <= 0:
                continue  # a send finishing wakes the loop
            if at > now:
                sleep = min(sleep, (at - now).total_seconds())
                continue
            lease = timedelta(seconds=endpoint.timeout_seconds * 2 + LEASE_MARGIN_SECONDS)
            for item in await self._repo.claim(name, now, now + lease, free):
                self._start(item, endpoint)
                started = True
        # After a claim, look again at once: more may be due than one claim took.
        return 0.0 if started else sleep

    def _start(self, item: Claimed, endpoint: WebhookEndpoint) -> None:
        self._in_flight[item.endpoint] = self._in_flight.get(item.endpoint, 0) + 1
        self._sends.start(f"kefu-webhook-{item.id}", self._deliver(item, endpoint))

    async def _deliver(self, item: Claimed, endpoint: WebhookEndpoint) -> None:
        try:
            try:
                attempt = await self._post(item, endpoint)
            except Exception as exc:
                # Not the receiver's doing (a bug, a header httpx refuses): still an
                # attempt, counted, so the delivery cannot come back forever uncounted.
                log.exception("webhooks: delivery %s to %s", item.id, item.endpoint)
                attempt = Attempt(None, f"{type(exc).__name__}: {exc}")
            await self._record(item, endpoint, attempt)
        except Exception:
            # Recording failed (store down): the lease runs out and it is sent again.
            log.exception("webhooks: delivery %s to %s failed to record", item.id, item.endpoint)
        finally:
            self._in_flight[item.endpoint] = self._in_flight.get(item.endpoint, 1) - 1
            self.notify()  # a slot is free

    async def _post(self, item: Claimed, endpoint: WebhookEndpoint) -> Attempt:
        if self._client is None:
            raise RuntimeError("the webhook worker was not entered")
        timestamp = int(self._clock.now().timestamp())
        headers = httpx.Headers(endpoint.headers)
        headers.update(
            {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                EVENT_ID_HEADER: item.event_id,
                EVENT_TYPE_HEADER: item.event_type,
                DELIVERY_ID_HEADER: str(item.id),
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: signature_header(endpoint.secret, timestamp, item.payload),
            }
        )
        try:
            # httpx's timeout bounds each read; this bounds the whole exchange, so a
            # receiver trickling bytes cannot hold a slot past its timeout either.
            async with (
                asyncio.timeout(endpoint.timeout_seconds),
                self._client.stream(
                    "POST",
                    endpoint.url,
                    content=item.payload,
                    headers=headers,
                    timeout=endpoint.timeout_seconds,
                ) as response,
            ):
                status = response.status_code
                if 200 <= status < 300:
                    return Attempt(status, None)
                return Attempt(status, f"HTTP {status}{await _body_excerpt(response)}")
        except (TimeoutError, httpx.TimeoutException):
            return Attempt(None, f"no reply within {endpoint.timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return Attempt(None, f"{type(exc).__name__}: {exc}".rstrip(": "))

    async def _record(self, item: Claimed, endpoint: WebhookEndpoint, attempt: Attempt) -> None:
        now = self._clock.now()
        if attempt.error is None and attempt.status_code is not None:
            await self._repo.record_success(item.id, item.endpoint, attempt.status_code, now)
            return
        attempts = item.attempts + 1
        retry_at = None
        if attempts < endpoint.max_attempts:
            delay = backoff_seconds(
                attempts, endpoint.backoff_seconds, endpoint.max_backoff_seconds, self._jitter
            )
            retry_at = now + timedelta(seconds=delay)
        error = attempt.error or f"HTTP {attempt.status_code}"
        disabled = await self._repo.record_failure(
            item.id,
            item.endpoint,
            status_code=attempt.status_code,
            error=error,
            retry_at=retry_at,
            disable_after=endpoint.disable_after_failures,
            now=now,
        )
        if retry_at is None:
            log.warning(
                "webhooks: delivery %s of event %s to %s failed after %d attempts: %s",
                item.id,
                item.event_id,
                item.endpoint,
                attempts,
                error,
            )
        else:
            log.info(
                "webhooks: delivery %s to %s, attempt %d: %s",
                item.id,
                item.endpoint,
                attempts,
                error,
            )
        if disabled:
            log.warning(
                "webhooks: endpoint %s disabled after %d failures in a row; enable it with "
                "POST /api/v1/webhooks/%s/enable",
                item.endpoint,
                endpoint.disable_after_failures,
                item.endpoint,
            )


async def _body_excerpt(response: httpx.Response) -> str:
    """``": <start of the body>"``, or nothing when the body is empty or unreadable."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= ERROR_BODY_BYTES:
                break
    except httpx.HTTPError:
        pass  # the status alone is the error
    text = " ".join(b"".join(chunks)[:ERROR_BODY_BYTES].decode(errors="replace").split())
    return f": {text}" if text else ""
