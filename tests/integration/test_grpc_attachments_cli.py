"""``kefu serve`` as an operator runs it, with ``grpc_port`` and ``attachments:`` in its
config file: a department system pushes a call recording over gRPC and reads it back,
and a SIGTERM in the middle of another upload stops the node cleanly (exit 0) with no
temporary file left behind (issue 15, item 19)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest

from kefu.v1 import attachments_pb2 as pb
from kefu.v1 import attachments_pb2_grpc as pb_grpc
from tests.support.cli import PASSWORD, add_agent, clean_env, kefu_serve
from tests.support.ports import free_port

ADMIN = "ops@example.test"
CHUNK = 256 * 1024
HANG_GUARD = 60.0  # a hang guard for a subprocess on a loaded host, never a timing test
# A WAV header and 1.5 MiB of "audio": a type only the config's allowed_types lets in
# (audio is not accepted by default).
RECORDING = b"RIFF\x00\x00\x00\x00WAVEfmt " + secrets.token_bytes(3 * CHUNK * 2)


def write_config(directory: Path, grpc_port: int) -> Path:
    config = directory / "kefu.yaml"
    config.write_text(
        f"""\
grpc_port: {grpc_port}
data_dir: {directory / "data"}
attachments:
  max_bytes: 4194304
  allowed_types: [audio/wav, application/pdf]
"""
    )
    return config


async def rest(
    http: aiohttp.ClientSession, method: str, url: str, token: str | None = None, **body: Any
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, url, json=body, headers=headers) as resp:
        assert resp.status in (200, 201), await resp.text()
        return await resp.json()


async def requests(
    ticket_id: str, data: bytes, stall: asyncio.Event | None = None
) -> AsyncIterator[pb.UploadRequest]:
    yield pb.UploadRequest(
        metadata=pb.UploadMetadata(ticket_id=ticket_id, filename="call-0042.wav", size=len(data))
    )
    for start in range(0, len(data), CHUNK):
        if stall is not None and start >= 2 * CHUNK:
            await stall.wait()
        yield pb.UploadRequest(chunk=data[start : start + CHUNK])


async def test_serve_with_grpc_port_in_the_config_takes_and_serves_files_and_stops_clean(
    tmp_path: Path,
) -> None:
    grpc_port = free_port()
    config = write_config(tmp_path, grpc_port)
    env = clean_env(KEFU_CONFIG=str(config), KEFU_AUTH__SECRET_KEY=secrets.token_hex(32))
    await add_agent(env, ADMIN, "--role", "admin")
    incoming = tmp_path / "data" / "attachments" / ".incoming"
    never = asyncio.Event()

    # The channel outlives the node: the stalled upload below must meet the SIGTERM, not
    # the channel's closing.
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = pb_grpc.AttachmentServiceStub(channel)  # type: ignore[no-untyped-call]
        async with kefu_serve(env) as (base, stderr), aiohttp.ClientSession() as http:
            admin = await rest(
                http, "POST", f"{base}/api/v1/auth/login", email=ADMIN, password=PASSWORD
            )
            made = await rest(
                http, "POST", f"{base}/api/v1/api-tokens", admin["token"],
                name="Call center", scopes=["attachments:write", "attachments:read"],
            )  # fmt: skip
            ticket = await rest(
                http, "POST", f"{base}/api/v1/tickets", admin["token"],
                customer_key="C1", subject="Disputed call", body="see the recording",
            )  # fmt: skip
            metadata = (("authorization", f"Bearer {made['token']}"),)
            info = await stub.Upload(requests(str(ticket["id"]), RECORDING), metadata=metadata)
            assert (info.content_type, info.size) == ("audio/wav", len(RECORDING))
            assert info.sha256 == hashlib.sha256(RECORDING).hexdigest()
            download = stub.Download(pb.DownloadRequest(id=info.id), metadata=metadata)
            parts = [p async for p in download]
            assert b"".join(p.chunk for p in parts[1:]) == RECORDING
            files = await rest(
                http, "GET", f"{base}/api/v1/tickets/{ticket['id']}/attachments", admin["token"]
            )
            assert [f["id"] for f in files["items"]] == [info.id]

            # An upload still streaming when the node is told to stop.
            stalled = stub.Upload(
                requests(str(ticket["id"]), RECORDING, stall=never), metadata=metadata
            )
            deadline = time.monotonic() + HANG_GUARD
            while not (incoming.exists() and any(p.stat().st_size for p in incoming.iterdir())):
                assert time.monotonic() < deadline, "the upload never reached the disk"
                await asyncio.sleep(0.05)
            # Leaving kefu_serve sends SIGTERM and requires exit status 0.
        with pytest.raises(grpc.aio.AioRpcError):
            await stalled
    assert list(incoming.iterdir()) == []
    assert any(f"gRPC on port {grpc_port}" in line for line in stderr)
