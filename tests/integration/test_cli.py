"""The ``kefu`` command line, run as operators run it: the installed console script in a
subprocess, on SQLite and on PostgreSQL.

Output is captured through pipes, as in scripts, CI and container logs. Errors must be one
line on stderr with exit code 2 and never a traceback.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory

from kefu.store.migrate import alembic_config
from tests.support.cli import (
    KEFU,
    PASSWORD,
    add_agent,
    assert_one_line_error,
    clean_env,
    kefu_cli,
    run_kefu,
)
from tests.support.kefu import Kefu


@pytest.fixture
def store_env(tmp_path: Path, store_url: str) -> dict[str, str]:
    """Points the CLI at the test's store and data dir: the same the ``kefu`` node uses."""
    return clean_env(KEFU_DATA_DIR=str(tmp_path / "data"), KEFU_STORE=store_url)


def wide(env: dict[str, str]) -> dict[str, str]:
    """``env`` with a terminal width that fits every column of ``agents list``."""
    return {**env, "COLUMNS": "250"}


async def login_status(kefu: Kefu, email: str) -> tuple[int, dict[str, Any]]:
    async with kefu.http.post(
        kefu.url("/api/v1/auth/login"), json={"email": email, "password": PASSWORD}
    ) as resp:
        return resp.status, await resp.json()


# -- migrate ------------------------------------------------------------------------------


async def test_migrate_applies_revisions_then_reports_up_to_date(
    fresh_store_url: str, tmp_path: Path
) -> None:
    store_env = clean_env(KEFU_DATA_DIR=str(tmp_path / "data"), KEFU_STORE=fresh_store_url)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()

    first = await kefu_cli("migrate", env=store_env)
    second = await kefu_cli("migrate", env=store_env)

    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("applied: ")
    assert head is not None and head in first.stdout
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "schema is up to date"


# -- agents -------------------------------------------------------------------------------


async def test_agents_add_then_list_shows_the_agent(store_env: dict[str, str]) -> None:
    agent_id = await add_agent(store_env, "alice@example.test", "--role", "supervisor")

    listing = await kefu_cli("agents", "list", env=store_env)

    assert listing.returncode == 0, listing.stderr
    # Piped output must keep whole values: operators grep it and copy ids from it.
    assert agent_id in listing.stdout
    assert "alice@example.test" in listing.stdout
    assert "supervisor" in listing.stdout


async def test_agent_added_by_cli_can_log_in_to_a_running_node(
    kefu: Kefu, store_env: dict[str, str]
) -> None:
    agent_id = await add_agent(store_env, "alice@example.test")

    status, body = await login_status(kefu, "alice@example.test")

    assert status == 200, body
    assert body["agent"]["id"] == agent_id
    assert body["agent"]["role"] == "agent"


async def test_agents_disable_makes_login_fail(kefu: Kefu, store_env: dict[str, str]) -> None:
    await add_agent(store_env, "alice@example.test")
    status, _ = await login_status(kefu, "alice@example.test")
    assert status == 200

    result = await kefu_cli("agents", "disable", "--email", "alice@example.test", env=store_env)
    status, body = await login_status(kefu, "alice@example.test")

    assert result.returncode == 0, result.stderr
    assert status == 401
    assert body["error"]["code"] == "invalid_credentials"


async def test_agents_disable_revokes_tokens_on_a_running_node(
    kefu: Kefu, store_env: dict[str, str]
) -> None:
    await add_agent(store_env, "alice@example.test")
    _, body = await login_status(kefu, "alice@example.test")
    token = body["token"]

    result = await kefu_cli("agents", "disable", "--email", "alice@example.test", env=store_env)
    assert result.returncode == 0, result.stderr

    # The node caches agents briefly (auth.service.PRINCIPAL_CACHE_SECONDS); the token
    # must die once that expires. The deadline only guards against a hang.
    async with asyncio.timeout(30):
        while True:
            status, answer = await kefu.get("/api/v1/auth/me", token)
            if status != 200:
                break
            await asyncio.sleep(0.2)
    assert status == 401
    assert answer["error"]["code"] == "token_revoked"


async def test_agents_list_marks_disabled_agents(store_env: dict[str, str]) -> None:
    await add_agent(store_env, "alice@example.test")
    await add_agent(store_env, "bob@example.test")
    await kefu_cli("agents", "disable", "--email", "alice@example.test", env=store_env)

    listing = await kefu_cli("agents", "list", env=wide(store_env))

    # Piped output is tab-separated: id, email, name, role, capacity, disabled.
    rows = {
        cells[1]: cells
        for cells in (line.split("\t") for line in listing.stdout.splitlines())
        if len(cells) == 6
    }
    assert rows["alice@example.test"][5] == "yes"
    assert rows["bob@example.test"][5] == "no"


async def test_agents_add_with_short_password_exits_2_with_one_line(
    store_env: dict[str, str],
) -> None:
    result = await kefu_cli(
        "agents", "add", "--email", "alice@example.test", "--password", "short",
        "--name", "Alice", env=store_env,
    )  # fmt: skip

    assert_one_line_error(result, "password")
    listing = await kefu_cli("agents", "list", env=wide(store_env))
    assert "alice@example.test" not in listing.stdout


async def test_agents_add_with_taken_email_exits_2_with_one_line(
    store_env: dict[str, str],
) -> None:
    await add_agent(store_env, "alice@example.test")

    result = await kefu_cli(
        "agents", "add", "--email", "ALICE@example.test", "--password", PASSWORD,
        "--name", "Other Alice", env=store_env,
    )  # fmt: skip

    assert_one_line_error(result, "alice@example.test")


async def test_agents_add_with_unknown_role_fails_without_traceback(
    store_env: dict[str, str],
) -> None:
    result = await kefu_cli(
        "agents", "add", "--email", "alice@example.test", "--password", PASSWORD,
        "--name", "Alice", "--role", "overlord", env=store_env,
    )  # fmt: skip

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "overlord" in result.stderr


async def test_agents_disable_unknown_email_exits_2_with_one_line(
    store_env: dict[str, str],
) -> None:
    result = await kefu_cli("agents", "disable", "--email", "ghost@example.test", env=store_env)

    assert_one_line_error(result, "ghost@example.test")


# -- serve --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "key"),
    [
        pytest.param('port: "abc"\n', "port", id="port-not-a-number"),
        pytest.param("port: 70000\n", "port", id="port-out-of-range"),
        pytest.param("store: mysql://x\n", "store", id="store-unsupported"),
        pytest.param("bus: kafka://x\n", "bus", id="bus-unsupported"),
        pytest.param("chat:\n  agent_capacity: 0\n", "chat.agent_capacity", id="nested-key"),
        pytest.param("colour: blue\n", "colour", id="unknown-key"),
        pytest.param(
            "port: 0\nchat:\n  agent_capacty: 3\n", "agent_capacty", id="unknown-nested-key"
        ),
    ],
)
def test_serve_with_bad_config_exits_with_one_line_naming_the_key(
    tmp_path: Path, config: str, key: str
) -> None:
    config_file = tmp_path / "kefu.yaml"
    config_file.write_text(config, encoding="utf-8")

    try:
        result = run_kefu(
            "serve",
            "--config",
            str(config_file),
            env=clean_env(KEFU_DATA_DIR=str(tmp_path / "data")),
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"kefu serve accepted {config!r} and kept running")

    assert_one_line_error(result, key)


def test_serve_with_missing_config_file_exits_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"

    result = run_kefu(
        "serve", "--config", str(missing), env=clean_env(KEFU_DATA_DIR=str(tmp_path / "data"))
    )

    assert_one_line_error(result, "nowhere.yaml")


def test_serve_with_invalid_yaml_exits_with_one_line(tmp_path: Path) -> None:
    config_file = tmp_path / "kefu.yaml"
    config_file.write_text("port: [8080\nstore: {", encoding="utf-8")

    result = run_kefu(
        "serve", "--config", str(config_file), env=clean_env(KEFU_DATA_DIR=str(tmp_path / "data"))
    )

    assert_one_line_error(result, "kefu.yaml")


async def test_serve_answers_health_and_stops_on_sigterm(store_env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        str(KEFU), "serve", "--port", "0", env=store_env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):  # a hang guard, not a timing assertion
            line = (await process.stdout.readline()).decode()
        found = re.search(r"http://[\d.]+:\d+", line)
        assert found, line
        reader, writer = await asyncio.open_connection(*found.group()[7:].split(":"))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: kefu\r\nConnection: close\r\n\r\n")
        response = await reader.read()
        writer.close()
        assert response.startswith(b"HTTP/1.1 200"), response[:200]
        assert b'"status":"ok"' in response.replace(b" ", b"")

        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            code = await process.wait()
        assert code == 0, (await process.stderr.read()).decode() if process.stderr else ""
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
