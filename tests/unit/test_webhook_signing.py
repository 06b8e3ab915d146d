"""Webhook signatures (what a receiver checks), the retry schedule and endpoint settings."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import ValidationError

from kefu.domain.webhooks import backoff_seconds, full_jitter
from kefu.webhooks.settings import WebhookEndpoint
from kefu.webhooks.signing import SignatureInvalid, signature_header, verify

SECRET = "whsec_0123456789abcdef"
BODY = b'{"id":"evt_1","type":"customer.complaint","data":{"text":"\xc3\xa9"}}'
NOW = 1_800_000_000


def test_the_header_is_stripe_style_hmac_of_timestamp_dot_body() -> None:
    header = signature_header(SECRET, NOW, BODY)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"


def test_verify_accepts_the_signed_body_and_returns_the_timestamp() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert verify(SECRET, header, BODY, now=NOW) == NOW
    assert verify(SECRET, header, BODY, now=NOW + 299) == NOW


def test_verify_accepts_any_of_several_signatures_for_secret_rotation() -> None:
    good = signature_header(SECRET, NOW, BODY).split(",")[1]
    assert verify(SECRET, f"t={NOW},v1={'0' * 64},{good}", BODY, now=NOW) == NOW


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("whsec_another-secret-entirely", BODY, NOW),  # wrong secret
        (SECRET, BODY + b" ", NOW),  # altered body
        (SECRET, BODY.replace(b"evt_1", b"evt_2"), NOW),
        (SECRET, BODY, NOW + 301),  # replayed after the tolerance
        (SECRET, BODY, NOW - 301),  # from the future beyond the skew allowed
    ],
)
def test_verify_refuses_wrong_secret_altered_body_and_stale_timestamps(
    secret: str, body: bytes, now: int
) -> None:
    header = signature_header(SECRET, NOW, BODY)
    with pytest.raises(SignatureInvalid):
        verify(secret, header, body, now=now)


def test_a_timestamp_moved_forward_breaks_the_signature() -> None:
    header = signature_header(SECRET, NOW, BODY).replace(f"t={NOW}", f"t={NOW + 100}")
    with pytest.raises(SignatureInvalid, match="no signature matches"):
        verify(SECRET, header, BODY, now=NOW + 100)


@pytest.mark.parametrize(
    "header",
    ["", "v1=abc", f"t={NOW}", f"t=yesterday,v1={'0' * 64}", f"t={NOW},v0=abc", f"t={NOW},v1=é"],
)
def test_malformed_headers_are_refused_with_the_same_error(header: str) -> None:
    with pytest.raises(SignatureInvalid):
        verify(SECRET, header, BODY, now=NOW)


def test_verify_defaults_to_the_current_time() -> None:
    with pytest.raises(SignatureInvalid, match="tolerance"):
        verify(SECRET, signature_header(SECRET, NOW - 10_000_000, BODY), BODY)


def test_backoff_doubles_from_the_base_up_to_the_cap_before_jitter() -> None:
    ceilings = [backoff_seconds(n, 5.0, 60.0, jitter=lambda c: c) for n in range(1, 8)]
    assert ceilings == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0, 60.0]
    assert backoff_seconds(10_000, 5.0, 60.0, jitter=lambda c: c) == 60.0


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    draws = [backoff_seconds(3, 1.0, 100.0, jitter=full_jitter) for _ in range(200)]
    assert all(0.0 <= d <= 4.0 for d in draws)
    assert len(set(draws)) > 100  # spread, not one value


@pytest.mark.parametrize(
    "headers",
    [{"X-Key": "line\r\nInjected: 1"}, {"X Key": "v"}, {"X-Key\n": "v"}, {"X-Key": "clé"}],
)
def test_endpoint_headers_that_could_never_be_sent_are_refused_at_start(
    headers: dict[str, str],
) -> None:
    with pytest.raises(ValidationError):
        WebhookEndpoint(url="https://crm.example/hook", secret=SECRET, headers=headers)


def test_endpoint_headers_and_defaults() -> None:
    endpoint = WebhookEndpoint(
        url="https://crm.example/hook", secret=SECRET, headers={"Authorization": "Bearer x"}
    )
    assert endpoint.headers == {"Authorization": "Bearer x"}
    assert (endpoint.concurrency, endpoint.max_attempts) == (4, 8)
