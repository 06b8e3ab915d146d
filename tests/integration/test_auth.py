"""Authentication and authorisation over the real REST API, on SQLite and on PostgreSQL.

Login and its throttles (per account and per client address), what each role may do,
visitor identity verification by HMAC signature, and the IP blacklist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import WSMsgType

from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.store.tables import visitors
from tests.support.kefu import PASSWORD, PASSWORD_HASH, Kefu

IDENTITY_SECRET = "site-identity-secret-0123456789abcdef"
CLOSE_FORBIDDEN = 4403


@pytest.fixture
def settings(request: pytest.FixtureRequest, settings_factory: Callable[..., Settings]) -> Settings:
    """Default settings; a test may pass overrides with indirect parametrisation."""
    return settings_factory(**getattr(request, "param", {}))


def with_auth(**auth: Any) -> Any:
    """Run the test on a node whose ``auth`` settings include ``auth``."""
    return pytest.mark.parametrize("settings", [{"auth": auth}], indirect=True, ids=["auth"])


async def create_agent(kefu: Kefu, name: str = "Alice", role: Role = Role.AGENT) -> str:
    """Store an agent with the shared test password, without logging in; its email."""
    email = f"{name.lower()}-{secrets.token_hex(3)}@example.test"
    await kefu.node.repos.agents.create(
        email=email,
        name=name,
        role=role,
        password_hash=PASSWORD_HASH,
        now=kefu.node.clock.now(),
    )
    return email


async def login(
    kefu: Kefu, email: str, password: str = PASSWORD
) -> tuple[int, dict[str, Any], dict[str, str]]:
    async with kefu.http.post(
        kefu.url("/api/v1/auth/login"), json={"email": email, "password": password}
    ) as resp:
        return resp.status, await resp.json(), dict(resp.headers)


async def count_visitors(kefu: Kefu) -> int:
    async with kefu.node.repos.db.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(visitors))).scalar())


def sign(external_id: str, secret: str = IDENTITY_SECRET) -> str:
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


# -- login --------------------------------------------------------------------------------


async def test_login_returns_a_working_token_and_the_agent(kefu: Kefu) -> None:
    email = await create_agent(kefu, "Alice", Role.SUPERVISOR)

    status, body, _ = await login(kefu, email)

    assert status == 200
    assert body["agent"]["email"] == email
    assert body["agent"]["name"] == "Alice"
    assert body["agent"]["role"] == "supervisor"
    status, me = await kefu.get("/api/v1/auth/me", body["token"])
    assert status == 200
    assert me["id"] == body["agent"]["id"]


async def test_login_email_is_case_insensitive(kefu: Kefu) -> None:
    email = await create_agent(kefu)

    status, _, _ = await login(kefu, email.upper())

    assert status == 200


async def test_login_with_wrong_password_is_401_invalid_credentials(kefu: Kefu) -> None:
    email = await create_agent(kefu)

    status, body, _ = await login(kefu, email, "not-the-password")

    assert status == 401
    assert body["error"]["code"] == "invalid_credentials"
    assert "token" not in body


async def test_login_with_unknown_email_answers_like_a_wrong_password(kefu: Kefu) -> None:
    email = await create_agent(kefu)
    _, wrong_password, _ = await login(kefu, email, "not-the-password")

    status, body, _ = await login(kefu, "nobody@example.test")

    assert status == 401
    assert body == wrong_password  # nothing tells which emails have accounts


async def test_disabled_agent_cannot_log_in(kefu: Kefu) -> None:
    email = await create_agent(kefu)
    found = await kefu.node.repos.agents.by_email(email)
    assert found is not None
    await kefu.node.repos.agents.update(found[0].id, disabled=True)

    status, body, _ = await login(kefu, email)

    assert status == 401
    assert body["error"]["code"] == "invalid_credentials"


@with_auth(login_failures_per_account=3)
async def test_account_locks_after_repeated_failures_even_for_right_password(
    kefu: Kefu,
) -> None:
    email = await create_agent(kefu)
    for _ in range(kefu.node.settings.auth.login_failures_per_account):
        status, _, _ = await login(kefu, email, "guess-again")
        assert status == 401

    status, body, headers = await login(kefu, email)

    assert status == 429
    assert body["error"]["code"] == "account_locked"
    assert int(headers["Retry-After"]) > 0


@with_auth(login_failures_per_account=3)
async def test_account_lock_applies_whatever_the_email_case(kefu: Kefu) -> None:
    email = await create_agent(kefu)
    for _ in range(kefu.node.settings.auth.login_failures_per_account):
        await login(kefu, email.upper(), "guess-again")

    status, body, _ = await login(kefu, email)

    assert status == 429
    assert body["error"]["code"] == "account_locked"


@with_auth(login_failures_per_account=3)
async def test_account_lock_does_not_lock_other_accounts(kefu: Kefu) -> None:
    victim = await create_agent(kefu, "Victim")
    bystander = await create_agent(kefu, "Bystander")
    for _ in range(kefu.node.settings.auth.login_failures_per_account):
        await login(kefu, victim, "guess-again")

    status, _, _ = await login(kefu, bystander)

    assert status == 200


@with_auth(login_per_ip_per_minute=3)
async def test_too_many_logins_from_one_address_are_429(kefu: Kefu) -> None:
    emails = [await create_agent(kefu, f"Agent{n}") for n in range(4)]
    for email in emails[:3]:
        status, _, _ = await login(kefu, email)
        assert status == 200

    status, body, headers = await login(kefu, emails[3])

    assert status == 429
    assert body["error"]["code"] == "too_many_attempts"
    assert int(headers["Retry-After"]) > 0


# -- roles --------------------------------------------------------------------------------


async def test_agent_cannot_list_agents(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Alice", Role.AGENT)

    status, body = await kefu.get("/api/v1/agents", agent["token"])

    assert status == 403
    assert body["error"]["code"] == "insufficient_role"


async def test_supervisor_can_list_agents(kefu: Kefu) -> None:
    supervisor = await kefu.add_agent("Sam", Role.SUPERVISOR)
    other = await kefu.add_agent("Alice", Role.AGENT)

    status, body = await kefu.get("/api/v1/agents", supervisor["token"])

    assert status == 200
    assert {supervisor["id"], other["id"]} <= {a["id"] for a in body}
    assert all("password" not in key for a in body for key in a)


async def test_supervisor_cannot_create_agents(kefu: Kefu) -> None:
    supervisor = await kefu.add_agent("Sam", Role.SUPERVISOR)

    status, body = await kefu.post(
        "/api/v1/agents",
        supervisor["token"],
        json={"email": "new@example.com", "password": "long-enough-1", "name": "New"},
    )

    assert status == 403
    assert body["error"]["code"] == "insufficient_role"
    assert await kefu.node.repos.agents.by_email("new@example.com") is None


async def test_admin_creates_an_agent_who_can_then_log_in(kefu: Kefu) -> None:
    admin = await kefu.add_agent("Root", Role.ADMIN)

    status, created = await kefu.post(
        "/api/v1/agents",
        admin["token"],
        json={
            "email": "newbie@example.com",
            "password": "long-enough-1",
            "name": "Newbie",
            "role": "supervisor",
        },
    )

    assert status == 201
    assert created["email"] == "newbie@example.com"
    assert created["role"] == "supervisor"
    status, body, _ = await login(kefu, "newbie@example.com", "long-enough-1")
    assert status == 200
    assert body["agent"]["id"] == created["id"]


async def test_admin_cannot_create_two_agents_with_one_email(kefu: Kefu) -> None:
    admin = await kefu.add_agent("Root", Role.ADMIN)
    new = {"email": "twice@example.com", "password": "long-enough-1", "name": "Twice"}
    status, _ = await kefu.post("/api/v1/agents", admin["token"], json=new)
    assert status == 201

    status, body = await kefu.post("/api/v1/agents", admin["token"], json=new)

    assert status == 409
    assert body["error"]["code"] == "email_taken"


@pytest.mark.parametrize("path", ["/api/v1/agents", "/api/v1/conversations"])
async def test_visitor_token_cannot_call_agent_routes(kefu: Kefu, path: str) -> None:
    visitor = await kefu.visitor(name="Vera")

    status, body = await kefu.get(path, visitor["token"])

    assert status == 403
    assert body["error"]["code"] == "agents_only"


# -- identity verification ----------------------------------------------------------------


@with_auth(identity_secret=IDENTITY_SECRET)
async def test_correctly_signed_external_id_is_trusted(kefu: Kefu) -> None:
    status, body = await kefu.post(
        "/api/v1/visitors", None, json={"external_id": "cust-42", "signature": sign("cust-42")}
    )

    assert status == 201
    stored = await kefu.node.repos.visitors.get(body["visitor_id"])
    assert stored is not None
    assert stored.external_id == "cust-42"
    assert stored.identity_verified is True


@with_auth(identity_secret=IDENTITY_SECRET)
async def test_uppercase_hex_signature_is_accepted(kefu: Kefu) -> None:
    status, body = await kefu.post(
        "/api/v1/visitors",
        None,
        json={"external_id": "cust-42", "signature": sign("cust-42").upper()},
    )

    assert status == 201
    stored = await kefu.node.repos.visitors.get(body["visitor_id"])
    assert stored is not None and stored.identity_verified is True


@with_auth(identity_secret=IDENTITY_SECRET)
@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(sign("cust-43"), id="other-customers-signature"),
        pytest.param(sign("cust-42", "another-site-secret"), id="other-secret"),
        pytest.param("00" * 32, id="zeros"),
        pytest.param("not hex at all", id="not-hex"),
        pytest.param("\u00e9" * 64, id="non-ascii"),
    ],
)
async def test_wrong_signature_is_403_and_stores_no_visitor(kefu: Kefu, signature: str) -> None:
    before = await count_visitors(kefu)

    status, body = await kefu.post(
        "/api/v1/visitors", None, json={"external_id": "cust-42", "signature": signature}
    )

    assert status == 403, body
    assert body["error"]["code"] == "invalid_signature"
    assert await count_visitors(kefu) == before


@with_auth(identity_secret=IDENTITY_SECRET)
async def test_unsigned_external_id_is_kept_but_not_trusted(kefu: Kefu) -> None:
    status, body = await kefu.post("/api/v1/visitors", None, json={"external_id": "cust-42"})

    assert status == 201
    stored = await kefu.node.repos.visitors.get(body["visitor_id"])
    assert stored is not None
    assert stored.identity_verified is False


# -- blacklist ----------------------------------------------------------------------------


async def test_blacklisted_network_cannot_create_visitors(kefu: Kefu) -> None:
    supervisor = await kefu.add_agent("Sam", Role.SUPERVISOR)
    before = await count_visitors(kefu)

    status, entry = await kefu.post(
        "/api/v1/blacklist", supervisor["token"], json={"network": "127.0.0.0/8"}
    )
    assert status == 201
    assert entry["network"] == "127.0.0.0/8"
    status, body = await kefu.post("/api/v1/visitors", None, json={"name": "Vera"})

    assert status == 403
    assert body["error"]["code"] == "blocked"
    assert await count_visitors(kefu) == before


async def test_blacklisted_visitor_socket_is_refused_but_agents_are_not(kefu: Kefu) -> None:
    supervisor = await kefu.add_agent("Sam", Role.SUPERVISOR)
    visitor = await kefu.visitor(name="Vera")
    status, _ = await kefu.post(
        "/api/v1/blacklist", supervisor["token"], json={"network": "127.0.0.1"}
    )
    assert status == 201

    ws = await kefu.http.ws_connect(kefu.url(f"/ws?token={visitor['token']}"))
    error = await ws.receive_json(timeout=5)
    closing = await ws.receive(timeout=5)
    agent_ws = await kefu.ws(supervisor["token"])

    assert error["code"] == "blocked"
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert ws.close_code == CLOSE_FORBIDDEN
    await ws.close()
    await agent_ws.close()


@pytest.mark.parametrize("network", ["not-a-network", "999.1.1.1/8", "10.0.0.0/33", "::g"])
async def test_invalid_blacklist_network_is_400_invalid_network(kefu: Kefu, network: str) -> None:
    supervisor = await kefu.add_agent("Sam", Role.SUPERVISOR)

    status, body = await kefu.post(
        "/api/v1/blacklist", supervisor["token"], json={"network": network}
    )

    assert status == 400
    assert body["error"]["code"] == "invalid_network"
    status, entries = await kefu.get("/api/v1/blacklist", supervisor["token"])
    assert status == 200
    assert entries == []


async def test_agent_cannot_edit_the_blacklist(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Alice", Role.AGENT)

    status, body = await kefu.post(
        "/api/v1/blacklist", agent["token"], json={"network": "10.0.0.0/8"}
    )

    assert status == 403
    assert body["error"]["code"] == "insufficient_role"


@with_auth(login_failures_per_account=3)
async def test_account_lock_counts_every_spelling_of_the_email(kefu: Kefu) -> None:
    """Spaces, tabs and case around the email reach the same account, so they count
    against the same lock: an attacker cannot reset the counter by re-spelling it."""
    email = await create_agent(kefu)
    spellings = [f" {email}", f"{email}\t", f"\t{email.upper()} "]
    for spelling in spellings:
        status, body, _ = await login(kefu, spelling, "guess-again")
        assert status == 401, body

    for spelling in [email, f" {email} ", f"{email.title()}\t"]:
        status, body, _ = await login(kefu, spelling)
        assert status == 429, (spelling, body)
        assert body["error"]["code"] == "account_locked"


async def test_login_accepts_the_email_with_surrounding_whitespace(kefu: Kefu) -> None:
    email = await create_agent(kefu)

    status, body, _ = await login(kefu, f"\t {email.upper()} ")

    assert status == 200, body
    assert body["agent"]["email"] == email


async def test_admin_created_agent_email_is_stored_normalized(kefu: Kefu) -> None:
    admin = await kefu.add_agent("Root", Role.ADMIN)

    status, created = await kefu.post(
        "/api/v1/agents",
        admin["token"],
        json={"email": " New.Hire@Example.com ", "password": "long-enough-1", "name": "New"},
    )

    assert status == 201, created
    assert created["email"] == "new.hire@example.com"
    status, body, _ = await login(kefu, "new.hire@example.com", "long-enough-1")
    assert status == 200, body
