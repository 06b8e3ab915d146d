"""kefu's SMTP sender against a real server (aiosmtpd) in each mode an ``smtp_url`` names:
plain, TLS from the start (smtps) and STARTTLS, with a login; and what it reports when
the server refuses (a temporary refusal is retried, a permanent one or a bad login is
not) or is not there at all."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from kefu.email.settings import EmailSettings
from kefu.email.smtp import SmtpSender
from tests.support.ports import free_port
from tests.support.smtp import SmtpServer, smtp_server

# aiosmtpd warns that AUTH without STARTTLS is unsafe: in smtps mode the whole connection
# is TLS from the first byte, which it does not count (tests.support.smtp).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


def raw_mail() -> bytes:
    message = EmailMessage()
    message["From"] = "help@acme.test"
    message["To"] = "vera@example.com"
    message["Subject"] = "Hello"
    message.set_content("Your parcel is on its way.")
    return message.as_bytes(policy=SMTP)


def sender(server: SmtpServer, url: str | None = None, **keys: str) -> SmtpSender:
    settings = EmailSettings.model_validate(
        {"smtp_url": url or server.url, "from": "help@acme.test", **keys}
    )
    return SmtpSender(settings.server, 10.0, tls_context=server.client_tls)


@pytest.mark.parametrize("security", ["plain", "tls", "starttls"])
async def test_mail_is_handed_over_in_every_mode(security: str, tmp_path: Path) -> None:
    login = ("svc", "s3cret:@") if security != "plain" else None
    with smtp_server(security, directory=tmp_path, login=login) as server:
        keys = {"username": "svc", "password": "s3cret:@"} if login else {}
        outcome = await sender(server, **keys).send(
            raw_mail(), "help@acme.test", "vera@example.com"
        )
        assert (outcome.error, outcome.permanent) == (None, False)
        [got] = await server.mailbox.wait_for(1)
        assert (got.sender, got.recipients) == ("help@acme.test", ["vera@example.com"])
        assert "Your parcel is on its way." in got.text


async def test_credentials_may_come_in_the_url(tmp_path: Path) -> None:
    with smtp_server("starttls", directory=tmp_path, login=("svc@acme", "p:w")) as server:
        url = f"smtp+starttls://svc%40acme:p%3Aw@127.0.0.1:{server.port}"
        outcome = await sender(server, url).send(raw_mail(), "help@acme.test", "v@example.com")
        assert outcome.error is None
        assert len(await server.mailbox.wait_for(1)) == 1


async def test_refusals_say_whether_to_try_again(tmp_path: Path) -> None:
    with smtp_server("starttls", directory=tmp_path, login=("svc", "right")) as server:
        wrong = await sender(server, username="svc", password="wrong").send(
            raw_mail(), "help@acme.test", "vera@example.com"
        )
        assert wrong.permanent and wrong.error is not None and wrong.error.startswith("SMTP 535")
        right = sender(server, username="svc", password="right")
        server.mailbox.refusals = ["451 4.3.0 try later", "554 5.7.1 rejected"]
        later = await right.send(raw_mail(), "help@acme.test", "vera@example.com")
        assert (later.error, later.permanent) == ("SMTP 451: 4.3.0 try later", False)
        never = await right.send(raw_mail(), "help@acme.test", "vera@example.com")
        assert (never.error, never.permanent) == ("SMTP 554: 5.7.1 rejected", True)
        assert server.mailbox.received == []


async def test_no_server_is_a_failure_worth_retrying() -> None:
    settings = EmailSettings.model_validate(
        {"smtp_url": f"smtp://127.0.0.1:{free_port()}", "from": "help@acme.test"}
    )
    outcome = await SmtpSender(settings.server, 5.0).send(raw_mail(), "a@b.test", "c@d.test")
    assert outcome.error is not None and not outcome.permanent


async def test_a_plain_url_never_upgrades_to_tls(tmp_path: Path) -> None:
    """smtp:// against a server that requires STARTTLS: refused, not silently upgraded."""
    with smtp_server("starttls", directory=tmp_path) as server:
        plain = f"smtp://127.0.0.1:{server.port}"
        outcome = await sender(server, plain).send(raw_mail(), "help@acme.test", "v@example.com")
        assert outcome.error is not None and server.mailbox.received == []
