"""The sender: claims due mails from the store's outbox, hands each to SMTP, records
the outcome with a backoff for the next try.

One per node. It wakes when a comment's mail committed (``notify``), at the next retry
it knows of, and at least every ``poll_seconds`` for rows other nodes queued. At most
``MAX_IN_FLIGHT`` mails are in flight per node; the backlog stays on disk.

Logs name mails by row and ticket id, never by address or text (those only at DEBUG).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType

from kefu.background import Background, Loop
from kefu.domain.webhooks import backoff_seconds, full_jitter
from kefu.email.settings import EmailSettings
from kefu.email.smtp import Sent, SmtpSender
from kefu.ports import Clock
from kefu.store.email import ClaimedMail, EmailRepository

log = logging.getLogger(__name__)

# A few connections to one relay at a time: mail is not a hot path, and relays limit
# connections per client.
MAX_IN_FLIGHT = 4
# A claimed mail is leased for twice the SMTP timeout plus this: time to record the
# outcome. A node that died mid-send loses the lease this long after.
LEASE_MARGIN_SECONDS = 30.0
DRAIN_SECONDS = 5.0


class MailWorker:
    """Async context manager owning the sending loop and the sends in flight."""

    def __init__(
        self,
        repo: EmailRepository,
        sender: SmtpSender,
        settings: EmailSettings,
        clock: Clock,
        *,
        jitter: Callable[[float], float] = full_jitter,
    ) -> None:
        self._repo = repo
        self._sender = sender
        self._settings = settings
        self._envelope_from = settings.mailbox.address
        self._clock = clock
        self._jitter = jitter
        self._background = Background("email")
        self._sends = self._background.children(
            "kefu-email-sends", limit=MAX_IN_FLIGHT, drain_seconds=DRAIN_SECONDS
        )
        self._loop: Loop | None = None

    async def __aenter__(self) -> MailWorker:
        await self._background.__aenter__()
        # A failed look (the store is down) is logged and tried again a poll later.
        self._loop = self._background.loop(
            "kefu-email", self._dispatch, retry_seconds=self._settings.poll_seconds
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._background.__aexit__(exc_type, exc, tb)

    def notify(self) -> None:
        """Look for due mail now (call after the transaction that queued it commits)."""
        if self._loop is not None:
            self._loop.wake()

    async def _dispatch(self) -> float:
        free = self._sends.free
        poll = self._settings.poll_seconds
        if free <= 0:
            return poll  # a send finishing wakes the loop
        now = self._clock.now()
        due = await self._repo.next_due()
        if due is None:
            return poll
        if due > now:
            return min(poll, (due - now).total_seconds())
        lease = timedelta(seconds=self._settings.timeout_seconds * 2 + LEASE_MARGIN_SECONDS)
        claimed = await self._repo.claim(now, now + lease, free)
        for mail in claimed:
            self._sends.start(f"kefu-email-{mail.id}", self._deliver(mail))
        return 0.0 if claimed else poll

    async def _deliver(self, mail: ClaimedMail) -> None:
        try:
            try:
                outcome = await self._sender.send(mail.raw, self._envelope_from, mail.recipient)
            except Exception as exc:  # a bug, not the server: still a counted attempt
                log.exception("email: mail %s of ticket %s", mail.id, mail.ticket_id)
                outcome = Sent(type(exc).__name__)
            await self._record(mail, outcome)
        except Exception:
            log.exception("email: mail %s failed to record; it is sent again later", mail.id)
        finally:
            self.notify()  # a slot is free

    async def _record(self, mail: ClaimedMail, outcome: Sent) -> None:
        now = self._clock.now()
        if outcome.error is None:
            await self._repo.sent(mail.id, now)
            log.info("email: mail %s of ticket %s sent", mail.id, mail.ticket_id)
            return
        attempts = mail.attempts + 1
        retry_at = None
        settings = self._settings
        if attempts < settings.max_attempts and not outcome.permanent:
            delay = backoff_seconds(
                attempts, settings.backoff_seconds, settings.max_backoff_seconds, self._jitter
            )
            retry_at = now + timedelta(seconds=delay)
        await self._repo.failed(mail.id, outcome.error, retry_at)
        # The server's words may quote the address: DEBUG only.
        log.debug("email: mail %s: %s", mail.id, outcome.error)
        if retry_at is None:
            log.warning(
                "email: mail %s of ticket %s failed for good after %d attempts%s",
                mail.id,
                mail.ticket_id,
                attempts,
                " (refused by the server)" if outcome.permanent else "",
            )
        else:
            log.info(
                "email: mail %s of ticket %s, attempt %d failed; next try in %.0f s",
                mail.id,
                mail.ticket_id,
                attempts,
                (retry_at - now).total_seconds(),
            )
