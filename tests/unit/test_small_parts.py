"""Config validation, NATS subject matching, auto-replies, tokens, identity HMAC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kefu.auth.identity import sign_external_id, verify_external_id
from kefu.auth.secret import load_or_create_secret
from kefu.auth.tokens import PrincipalKind, TokenSigner
from kefu.config import load_settings
from kefu.domain.autoreply import AutoReplyRule, match_auto_reply
from kefu.errors import ConfigError, Unauthenticated
from kefu.forwarded import ClientAddress


def test_defaults_are_embedded(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path)
    assert settings.store_url == f"sqlite:///{tmp_path / 'kefu.db'}"
    assert settings.bus == "memory://"
    assert settings.effective_grpc_port == settings.port + 1


def test_env_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "kefu.yaml"
    config.write_text("port: 9000\nchat:\n  agent_capacity: 3\n")
    monkeypatch.setenv("KEFU_PORT", "9100")
    settings = load_settings(config)
    assert settings.port == 9100
    assert settings.chat.agent_capacity == 3


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("port: abc\n", "port"),
        ("store: mysql://x\n", "store"),
        ("chat:\n  agent_capacity: 0\n", "chat.agent_capacity"),
        ("colour: red\n", "colour"),
        ("cluster:\n  subject: 'kefu.*'\n", "cluster.subject"),
        ("cluster:\n  heartbeat_seconds: 10\n  presence_ttl_seconds: 5\n", "cluster"),
        ("- a list\n", "config"),
        ("port: [\n", "config"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, yaml_text: str, key: str) -> None:
    config = tmp_path / "kefu.yaml"
    config.write_text(yaml_text)
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert raised.value.key == key
    assert "\n" not in raised.value.message


def test_auto_reply_first_match_wins_case_insensitively() -> None:
    rules = [AutoReplyRule(("hours",), "9-18"), AutoReplyRule(("refund", "HOURS"), "other")]
    assert match_auto_reply("What are your HOURS?", rules) == "9-18"
    assert match_auto_reply("I want a Refund", rules) == "other"
    assert match_auto_reply("hello", rules) is None


def test_tokens_round_trip_and_expire() -> None:
    signer = TokenSigner("s" * 40, agent_ttl=timedelta(hours=1), visitor_ttl=timedelta(days=1))
    now = datetime.now(UTC)
    claims = signer.verify(signer.issue(PrincipalKind.AGENT, "agt_1", now, version=3))
    assert (claims.kind, claims.subject, claims.version) == (PrincipalKind.AGENT, "agt_1", 3)
    stale = signer.issue(PrincipalKind.AGENT, "agt_1", now - timedelta(hours=2))
    with pytest.raises(Unauthenticated) as raised:
        signer.verify(stale)
    assert raised.value.code == "token_expired"
    other = TokenSigner("o" * 40, agent_ttl=timedelta(hours=1), visitor_ttl=timedelta(days=1))
    with pytest.raises(Unauthenticated) as forged:
        other.verify(signer.issue(PrincipalKind.VISITOR, "vis_1", now))
    assert forged.value.code == "invalid_token"


def test_identity_signature() -> None:
    signature = sign_external_id("site-secret", "cust-42")
    assert verify_external_id("site-secret", "cust-42", signature)
    assert verify_external_id("site-secret", "cust-42", signature.upper())
    assert not verify_external_id("site-secret", "cust-43", signature)


def test_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path, None)
    assert len(first) >= 32
    assert load_or_create_secret(tmp_path, None) == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0
    assert load_or_create_secret(tmp_path, "configured" * 4) == "configured" * 4


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    resolver = ClientAddress(["10.0.0.0/8"])
    assert resolver.resolve("10.0.0.5", "203.0.113.9, 10.0.0.7") == "203.0.113.9"
    assert resolver.resolve("198.51.100.1", "203.0.113.9") == "198.51.100.1"
    assert resolver.resolve("10.0.0.5", None) == "10.0.0.5"
    assert ClientAddress([]).resolve("10.0.0.5", "1.2.3.4") == "10.0.0.5"
    spoofed = resolver.resolve("10.0.0.5", "6.6.6.6, 203.0.113.9")
    assert spoofed == "203.0.113.9"  # the leftmost hop is the client's claim, not proof
