"""The Python client of docs/grpc.md, run as an integrator runs it: the ```python block
written to a file and started with this interpreter, against a served node's gRPC port.
It must push a file into a ticket and read it back, and print the refusal of one over
the limit (issue 15, item 19)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from kefu.api.grpc.server import start_grpc
from kefu.config import Settings
from kefu.domain.roles import Role
from tests.support.kefu import Kefu, serving

DOC = Path(__file__).resolve().parents[2] / "docs" / "grpc.md"
SECTION = "### Python client"
MAX_BYTES = 64 * 1024
RUN_GUARD = 120.0  # a hang guard for a subprocess on a loaded host, never a timing test


def client_source() -> str:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"```python\n(.*?)^```", text[text.index(SECTION) :], re.M | re.S)
    assert found, f"no python block under {SECTION!r} in {DOC}"
    return found.group(1)


@pytest.fixture
async def node(settings_factory: Callable[..., Settings]) -> AsyncIterator[tuple[Kefu, int]]:
    settings = settings_factory(attachments={"max_bytes": MAX_BYTES})
    async with serving(settings) as kefu:
        server, port = await start_grpc(kefu.node, "127.0.0.1", 0)
        try:
            yield kefu, port
        finally:
            await server.stop(None)


def run_client(script: Path, port: int, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEFU_GRPC": f"127.0.0.1:{port}", "KEFU_TOKEN": token}
    return subprocess.run(
        [sys.executable, str(script), *args],
        env=env, capture_output=True, text=True, timeout=RUN_GUARD, check=False,
    )  # fmt: skip


async def test_the_documented_client_pushes_reads_back_and_reports_refusals(
    node: tuple[Kefu, int], tmp_path: Path
) -> None:
    kefu, port = node
    admin = await kefu.add_agent("Root", Role.ADMIN)
    status, made = await kefu.post(
        "/api/v1/api-tokens",
        admin["token"],
        {"name": "Billing", "scopes": ["attachments:write", "attachments:read"]},
    )
    assert status == 201, made
    status, ticket = await kefu.post(
        "/api/v1/tickets",
        admin["token"],
        {"customer_key": "C7", "subject": "Receipt", "body": "scan attached"},
    )
    assert status == 201, ticket
    script = tmp_path / "push_file.py"
    script.write_text(client_source(), encoding="utf-8")
    receipt = tmp_path / "receipt.pdf"
    receipt.write_bytes(b"%PDF-1.4\n" + os.urandom(40_000))

    done = await asyncio.to_thread(
        run_client, script, port, made["token"], str(ticket["id"]), str(receipt)
    )
    assert done.returncode == 0, done.stderr
    stored = re.search(r"stored (att_\w+) as application/pdf, 40009 bytes", done.stdout)
    assert stored, done.stdout
    assert (tmp_path / "receipt.pdf.copy").read_bytes() == receipt.read_bytes()
    status, files = await kefu.get(f"/api/v1/tickets/{ticket['id']}/attachments", admin["token"])
    assert [f["id"] for f in files["items"]] == [stored.group(1)]

    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + bytes(MAX_BYTES))
    done = await asyncio.to_thread(
        run_client, script, port, made["token"], str(ticket["id"]), str(big)
    )
    assert done.returncode == 1
    assert done.stderr.startswith("refused: RESOURCE_EXHAUSTED attachment_too_large:"), done.stderr
