"""Every command-line flag with a config file that names every connector kind.

Run as operators run it: the installed ``kefu`` script in a subprocess. The file has a
source of each kind (mongodb, mysql, sql, xml, rest), rules written with ``on:`` as the
docs write them, and a webhook. A node started with any flag must come up (``/readyz``
answers 200), serve the file's sources, and stop cleanly on SIGTERM. Flags once made
the loader re-validate a dump of the settings, defaults included, which refused every
non-SQL source (``max_rows applies to mysql and sql sources``) though no file set it.

The file, the environment and the flags each name a different host or port, so the
address the node prints shows which one won: flags over environment over file.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.support.cli import KEFU, PASSWORD, add_agent, clean_env, kefu_cli
from tests.support.nats import NatsServer
from tests.support.ports import free_port
from tests.support.postgres import postgres_database

SOURCES = {
    "crm": "mongodb",
    "orders": "mysql",
    "billing": "sql",
    "callcenter": "xml",
    "profile": "rest",
}
ADMIN = "ada@example.test"
# Loopback addresses other than the flag's, so the printed URL tells who won.
FILE_HOST = "127.0.0.2"
FLAG_HOST = "127.0.0.1"
SERVING = re.compile(r"serving on (http://[\d.]+:\d+)")


def write_config(directory: Path, store: str, port: int) -> Path:
    """A complete config with one source of every connector kind, as docs/connectors.md
    writes them (the systems need not be up: connectors connect on first use)."""
    config = directory / "kefu.yaml"
    config.write_text(
        f"""\
host: {FILE_HOST}
port: {port}
grpc_port: 0
data_dir: {directory / "data"}
store: {store}
sources:
  crm:
    connector: mongodb
    connection: {{url: "mongodb://127.0.0.1:27117", database: kefu_cli_test}}
    request: {{collection: customers, filter: {{customer_id: "{{value}}"}}, limit: 1}}
    map: {{customer: {{name: name, phone: phone}}}}
  orders:
    connector: mysql
    connection: {{url: "mysql://root@127.0.0.1:3306/test"}}
    request: {{query: "SELECT order_no FROM orders WHERE customer_key = :value"}}
    map: {{orders: {{id: order_no}}}}
    max_rows: 200
  billing:
    connector: sql
    connection: {{url: "sqlite+aiosqlite:///{directory / "billing.db"}"}}
    request: {{query: "SELECT invoice_no FROM invoices WHERE customer = :value"}}
    map: {{orders: {{id: invoice_no}}}}
  callcenter:
    connector: xml
    connection: {{base_url: "http://127.0.0.1:9"}}
    request: {{method: GET, path: "/calls/{{value}}"}}
    key: {{via: crm, field: customer.phone}}
    map: {{calls: {{from: Call, fields: {{id: "@id"}}}}}}
  profile:
    connector: rest
    connection: {{base_url: "http://127.0.0.1:9"}}
    request: {{path: "/customers/{{value}}"}}
    map: {{customer: {{tier: tier}}}}
    stale_seconds: 30
webhooks:
  crm_sync: {{url: "http://127.0.0.1:9/hook", secret: "a-secret-of-16-chars"}}
rules:
  - name: vip-service
    on: customer.upgrade
    do:
      - notify: {{role: supervisor, message: "{{customer_key}} is now VIP"}}
  - name: complaints
    on: [customer.complaint]
    do:
      - webhook: crm_sync
""",
        encoding="utf-8",
    )
    return config


@asynccontextmanager
async def running(
    *args: str, env: dict[str, str], log: Path, started: str = "serving on"
) -> AsyncIterator[str]:
    """``kefu *args`` until its stdout shows ``started``: yields that output so far.

    On leaving, SIGTERM, and the process must exit 0 with no traceback."""
    with log.open("wb") as stderr:  # a file, not a pipe: nobody has to drain it
        process = await asyncio.create_subprocess_exec(
            str(KEFU), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=stderr
        )
    try:
        assert process.stdout is not None
        printed = ""
        async with asyncio.timeout(120):  # a hang guard, not a timing assertion
            while started not in printed:
                line = (await process.stdout.readline()).decode()
                assert line, f"kefu {' '.join(args)} exited: {printed}{log.read_text()}"
                printed += line
        yield printed
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            code = await process.wait()
        assert code == 0, log.read_text()
        assert "Traceback" not in log.read_text()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def ready_and_serving_sources(base: str) -> None:
    """``/readyz`` says ready, and an admin sees the file's five sources."""
    async with aiohttp.ClientSession() as http:
        async with asyncio.timeout(60):  # ready is a state to wait for; this guards a hang
            while True:
                async with http.get(f"{base}/readyz") as resp:
                    if resp.status == 200:
                        break
                await asyncio.sleep(0.1)
        login = {"email": ADMIN, "password": PASSWORD}
        async with http.post(f"{base}/api/v1/auth/login", json=login) as resp:
            assert resp.status == 200, await resp.text()
            token = (await resp.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{base}/api/v1/customers/sources", headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            served = {source["name"]: source["connector"] for source in await resp.json()}
    assert served == SOURCES


# -- serve: each flag -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param((), id="no-flag"),
        pytest.param(("--host",), id="host"),
        pytest.param(("--port",), id="port"),
        pytest.param(("--host", "--port"), id="host-and-port"),
        pytest.param(("-c",), id="short-config"),
    ],
)
async def test_serve_starts_with_every_connector_kind_and_each_flag(
    tmp_path: Path, flags: tuple[str, ...]
) -> None:
    file_port, env_port, flag_port = free_port(), free_port(), free_port()
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'kefu.db'}", file_port)
    env = clean_env(KEFU_PORT=str(env_port), KEFU_AUTH__SECRET_KEY=secrets.token_hex(32))
    await add_agent(env, ADMIN, "--role", "admin", "--config", str(config))
    args = ["serve", "-c" if "-c" in flags else "--config", str(config)]
    if "--host" in flags:
        args += ["--host", FLAG_HOST]
    if "--port" in flags:
        args += ["--port", str(flag_port)]

    async with running(*args, env=env, log=tmp_path / "kefu.log") as printed:
        found = SERVING.search(printed)
        assert found, printed
        host = FLAG_HOST if "--host" in flags else FILE_HOST
        port = flag_port if "--port" in flags else env_port
        assert found.group(1) == f"http://{host}:{port}"
        await ready_and_serving_sources(found.group(1))


async def test_serve_workers_flag_starts_with_every_connector_kind(
    tmp_path: Path, nats: NatsServer
) -> None:
    port = free_port()
    async with postgres_database() as store:
        config = write_config(tmp_path, store, free_port())
        env = clean_env(
            KEFU_BUS=nats.url,
            KEFU_GRPC_PORT=str(free_port()),  # the file's 0 is refused with workers
            KEFU_AUTH__SECRET_KEY=secrets.token_hex(32),
        )
        await add_agent(env, ADMIN, "--role", "admin", "--config", str(config))
        args = ("serve", "--workers", "2", "--host", FLAG_HOST, "--port", str(port))

        async with running(
            *args, "--config", str(config), env=env, log=tmp_path / "kefu.log"
        ) as printed:
            assert f"serving on http://{FLAG_HOST}:{port} with 2 workers" in printed
            await ready_and_serving_sources(f"http://{FLAG_HOST}:{port}")


# -- demo, migrate, agents: their flags with the same file ---------------------------------


async def test_demo_flags_start_with_every_connector_kind(tmp_path: Path) -> None:
    port, shop_port = free_port(), free_port()
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'kefu.db'}", free_port())
    # The environment names another port: the flag must still win after the demo adds
    # its shop site to the settings.
    env = clean_env(KEFU_PORT=str(free_port()), KEFU_AUTH__SECRET_KEY=secrets.token_hex(32))
    await add_agent(env, ADMIN, "--role", "admin", "--config", str(config))
    args = ("demo", "--host", FLAG_HOST, "--port", str(port), "--shop-port", str(shop_port))

    async with running(
        *args, "--config", str(config), env=env, log=tmp_path / "kefu.log", started="Ctrl+C"
    ):
        await ready_and_serving_sources(f"http://{FLAG_HOST}:{port}")
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://{FLAG_HOST}:{shop_port}/") as resp,
        ):
            assert resp.status == 200


async def test_migrate_and_agents_take_a_config_with_every_connector_kind(
    tmp_path: Path, store_url: str
) -> None:
    config = write_config(tmp_path, store_url, free_port())
    env = clean_env()

    migrated = await kefu_cli("migrate", "--config", str(config), env=env)
    await add_agent(env, ADMIN, "--role", "supervisor", "--capacity", "3", "--config", str(config))
    await add_agent(env, "bob@example.test", "-c", str(config))
    disabled = await kefu_cli(
        "agents", "disable", "--email", "bob@example.test", "--config", str(config), env=env
    )
    listed = await kefu_cli("agents", "list", "--config", str(config), env=env)

    assert migrated.returncode == 0, migrated.stderr
    assert disabled.returncode == 0, disabled.stderr
    assert listed.returncode == 0, listed.stderr
    rows = {line.split("\t")[1]: line.split("\t") for line in listed.stdout.splitlines()[1:]}
    assert rows[ADMIN][3:] == ["supervisor", "3", "no"]
    assert rows["bob@example.test"][5] == "yes"
