"""Upload quotas and streamed uploads, over HTTP on both stores (issue 12, item 12).

A self-minted visitor token once uploaded files without end, each held whole in memory.
Now visitors and their address have hourly quotas (429 + Retry-After, nothing stored),
and a body is streamed to a temporary file with the size limit enforced as it arrives.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kefu.attachments.storage import BlobStore, TooBig
from kefu.config import Settings
from kefu.store.tables import attachments
from tests.support.kefu import Kefu

MAX_BYTES = 4096


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(
        attachments={
            "max_bytes": MAX_BYTES,
            "visitor_files_per_hour": 3,
            "visitor_bytes_per_hour": 2 * MAX_BYTES + MAX_BYTES // 2,
            "ip_files_per_hour": 5,
            "ip_bytes_per_hour": 5 * MAX_BYTES,
        }
    )


def text(size: int = 100) -> bytes:
    """Distinct content each call, so every upload is its own file on disk."""
    line = secrets.token_hex(16).encode() + b"\n"
    return (line * (size // len(line) + 1))[:size]


async def upload(kefu: Kefu, token: str, data: Any) -> tuple[int, Any, dict[str, str]]:
    async with kefu.http.post(
        kefu.url("/api/v1/attachments?name=notes.txt"),
        data=data,
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        body = await resp.json()
        return resp.status, body, dict(resp.headers)


def stored_files(kefu: Kefu) -> list[Path]:
    """Every file under the attachments directory, temporary ones included."""
    root = kefu.node.settings.data_dir / "attachments"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def rows(kefu: Kefu) -> int:
    async with kefu.node.repos.db.connect() as conn:
        return int(
            (await conn.execute(sa.select(sa.func.count()).select_from(attachments))).scalar_one()
        )


async def test_a_visitor_over_the_file_quota_gets_429_and_nothing_is_stored(kefu: Kefu) -> None:
    visitor = await kefu.visitor()
    for _ in range(3):
        status, body, _ = await upload(kefu, visitor["token"], text())
        assert status == 201, body
    files, count = stored_files(kefu), await rows(kefu)
    status, body, headers = await upload(kefu, visitor["token"], text())
    assert status == 429
    assert body["error"]["code"] == "upload_quota_exceeded"
    assert "this visitor" in body["error"]["message"]
    assert 1 <= int(headers["Retry-After"]) <= 3600
    assert stored_files(kefu) == files and await rows(kefu) == count
    # Another visitor is not held back by the first one's quota.
    other = await kefu.visitor()
    status, _, _ = await upload(kefu, other["token"], text())
    assert status == 201


async def test_the_byte_quota_counts_what_was_uploaded(kefu: Kefu) -> None:
    visitor = await kefu.visitor()
    for _ in range(2):
        status, _, _ = await upload(kefu, visitor["token"], text(MAX_BYTES))
        assert status == 201
    files, count = stored_files(kefu), await rows(kefu)
    # 8 KiB stored of a 10 KiB quota: a third file of 4 KiB would pass it (its count
    # would not), declared or streamed.
    for body_of_4k in (text(MAX_BYTES), chunks(MAX_BYTES)):
        status, body, headers = await upload(kefu, visitor["token"], body_of_4k)
        assert status == 429 and body["error"]["code"] == "upload_quota_exceeded"
        assert 1 <= int(headers["Retry-After"]) <= 3600
        assert stored_files(kefu) == files and await rows(kefu) == count
    # What still fits is accepted.
    status, _, _ = await upload(kefu, visitor["token"], text(MAX_BYTES // 2))
    assert status == 201


async def test_visitors_sharing_an_address_share_its_quota(kefu: Kefu) -> None:
    for _ in range(5):  # one file each from five visitors, all from 127.0.0.1
        status, _, _ = await upload(kefu, (await kefu.visitor())["token"], text())
        assert status == 201
    count = await rows(kefu)
    status, body, _ = await upload(kefu, (await kefu.visitor())["token"], text())
    assert status == 429
    assert body["error"]["code"] == "upload_quota_exceeded"
    assert "this address" in body["error"]["message"]
    assert await rows(kefu) == count


async def test_agents_are_not_held_to_the_visitor_quotas(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Ann")
    for _ in range(7):
        status, _, _ = await upload(kefu, agent["token"], text())
        assert status == 201


async def chunks(total: int, size: int = 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"a" * size
        sent += size


async def test_a_too_large_chunked_upload_is_stopped_while_streaming(kefu: Kefu) -> None:
    visitor = await kefu.visitor()
    # No Content-Length (chunked): only the streaming limit can refuse it.
    status, body, _ = await upload(kefu, visitor["token"], chunks(64 * MAX_BYTES))
    assert status == 413
    assert body["error"]["code"] == "attachment_too_large"
    assert stored_files(kefu) == []  # no blob, and no temporary file left behind
    assert await rows(kefu) == 0
    # A chunked upload within the limit is stored like any other.
    status, body, _ = await upload(kefu, visitor["token"], chunks(MAX_BYTES))
    assert status == 201 and body["size"] == MAX_BYTES
    (stored,) = stored_files(kefu)
    assert stored.parent.name != ".incoming" and len(stored.name) == 64


async def test_receive_reads_no_further_than_the_limit(tmp_path: Path) -> None:
    """The stream is abandoned at the first chunk past the limit, not drained."""
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"x" * 1000

    blobs = BlobStore(tmp_path / "attachments")
    with pytest.raises(TooBig):
        await blobs.receive(endless(), 10_000)
    assert pulled == 11
    assert list(blobs.incoming_dir.iterdir()) == []
