"""The sweep of uploads never sent in a message, on both stores (issue 12, item 12).

Driven by an injected clock ("a day later"), never by sleeping: it deletes an old unsent
upload (row and file) and keeps sent ones, young ones, and one a send has just claimed;
a send that lost the race to the sweep is refused and stores nothing.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from kefu.attachments.storage import BlobStore
from kefu.attachments.sweep import UnsentSweep
from kefu.auth.principal import visitor_key
from kefu.config import Settings
from kefu.store.tables import attachments, messages
from tests.support.kefu import Kefu, serving

MAX_AGE = timedelta(hours=24)


@dataclass
class FixedClock:
    moment: datetime

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    # The node's own periodic sweep stays out of the way: the test runs one itself.
    return settings_factory(attachments={"sweep_seconds": 86_400})


async def upload(kefu: Kefu, token: str) -> dict[str, Any]:
    async with kefu.http.post(
        kefu.url("/api/v1/attachments?name=a.txt"),
        data=secrets.token_hex(20).encode() + b"\n",
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        assert resp.status == 201, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


def sweep_at(kefu: Kefu, moment: datetime) -> UnsentSweep:
    blobs = BlobStore(kefu.node.settings.data_dir / "attachments")
    return UnsentSweep(kefu.node.repos.attachments, blobs, FixedClock(moment), MAX_AGE)


async def row(kefu: Kefu, attachment_id: str) -> Any:
    async with kefu.node.repos.db.connect() as conn:
        query = sa.select(attachments).where(attachments.c.id == attachment_id)
        return (await conn.execute(query)).first()


async def age(kefu: Kefu, attachment_id: str, created_at: datetime) -> None:
    async with kefu.node.repos.db.begin() as conn:
        await conn.execute(
            attachments.update()
            .where(attachments.c.id == attachment_id)
            .values(created_at=created_at)
        )


def blob(kefu: Kefu, sha256: str) -> Any:
    return kefu.node.settings.data_dir / "attachments" / sha256[:2] / sha256


async def test_the_sweep_deletes_old_unsent_uploads_only(kefu: Kefu) -> None:
    visitor = await kefu.visitor()
    ws = await kefu.ws(visitor["token"])
    old = await upload(kefu, visitor["token"])
    sent = await upload(kefu, visitor["token"])
    young = await upload(kefu, visitor["token"])
    await ws.send(
        {"type": "message.send", "client_msg_id": "m", "body": "", "attachment_ids": [sent["id"]]}
    )
    await ws.expect("message.ack", client_msg_id="m")
    shas = {a["id"]: (await row(kefu, a["id"])).sha256 for a in (old, sent, young)}
    uploaded = (await row(kefu, old["id"])).created_at
    # A day and an hour later; the young one was uploaded two hours before that.
    later = uploaded + MAX_AGE + timedelta(hours=1)
    await age(kefu, young["id"], later - timedelta(hours=2))

    swept = await sweep_at(kefu, later).run_once()

    assert (swept.attachments, swept.files) == (1, 1)
    assert await row(kefu, old["id"]) is None
    assert not blob(kefu, shas[old["id"]]).exists()
    for kept in (sent, young):
        assert await row(kefu, kept["id"]) is not None
        assert blob(kefu, shas[kept["id"]]).exists()
    # The sent one still opens for its sender.
    status, _ = await kefu.get(f"/api/v1/attachments/{sent['id']}/link", visitor["token"])
    assert status == 200
    # Run again: nothing left to do.
    assert (await sweep_at(kefu, later).run_once()).attachments == 0
    await ws.close()


async def test_a_shared_content_keeps_its_file(kefu: Kefu) -> None:
    """Files are stored once per content: the sweep removes the row, not a file another
    row still needs."""
    first, second = await kefu.visitor(), await kefu.visitor()
    data = b"the same bytes\n"
    ids = []
    for who in (first, second):
        async with kefu.http.post(
            kefu.url("/api/v1/attachments"),
            data=data,
            headers={"Authorization": f"Bearer {who['token']}"},
        ) as resp:
            ids.append((await resp.json())["id"])
    stored = await row(kefu, ids[0])
    await age(kefu, ids[0], stored.created_at - MAX_AGE - timedelta(hours=1))
    swept = await sweep_at(kefu, stored.created_at).run_once()
    assert (swept.attachments, swept.files) == (1, 0)
    assert blob(kefu, stored.sha256).exists()


async def test_a_claimed_upload_survives_a_racing_sweep(kefu: Kefu) -> None:
    visitor = await kefu.visitor()
    claimed = await upload(kefu, visitor["token"])
    uploaded = (await row(kefu, claimed["id"])).created_at
    later = uploaded + MAX_AGE + timedelta(hours=1)
    # A send names it (the claim) just as the sweep runs, a day later.
    key = visitor_key(visitor["visitor_id"])
    assert await kefu.node.repos.attachments.claim([claimed["id"]], key, later) == 1
    assert (await sweep_at(kefu, later).run_once()).attachments == 0
    assert await row(kefu, claimed["id"]) is not None


async def test_a_send_that_lost_the_race_is_refused_and_stores_nothing(kefu: Kefu) -> None:
    visitor = await kefu.visitor()
    ws = await kefu.ws(visitor["token"])
    gone = await upload(kefu, visitor["token"])
    uploaded = (await row(kefu, gone["id"])).created_at
    assert (await sweep_at(kefu, uploaded + MAX_AGE * 2).run_once()).attachments == 1
    await ws.send(
        {"type": "message.send", "client_msg_id": "m", "body": "x", "attachment_ids": [gone["id"]]}
    )
    error = await ws.expect("error", client_msg_id="m")
    assert error["code"] == "attachment_not_found"
    async with kefu.node.repos.db.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(messages))).scalar() == 0
    await ws.close()


async def test_debris_of_a_crashed_upload_goes_at_the_same_age(kefu: Kefu) -> None:
    incoming = kefu.node.settings.data_dir / "attachments" / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    stale, fresh = incoming / "upload-stale", incoming / "upload-fresh"
    for path, written in ((stale, now - MAX_AGE - timedelta(hours=1)), (fresh, now)):
        path.write_bytes(b"half a file")
        os.utime(path, (written.timestamp(), written.timestamp()))
    assert (await sweep_at(kefu, now).run_once()).files == 1
    assert not stale.exists() and fresh.exists()


async def test_every_node_runs_the_sweep(settings_factory: Callable[..., Settings]) -> None:
    """The node's own periodic sweep (here every 0.2 s) removes an upload a day old."""
    async with serving(settings_factory(attachments={"sweep_seconds": 0.2})) as kefu:
        visitor = await kefu.visitor()
        old, young = await upload(kefu, visitor["token"]), await upload(kefu, visitor["token"])
        created = (await row(kefu, old["id"])).created_at
        await age(kefu, old["id"], created - MAX_AGE - timedelta(hours=1))
        deadline = asyncio.get_running_loop().time() + 15
        while await row(kefu, old["id"]) is not None:
            assert asyncio.get_running_loop().time() < deadline, "the sweep did not run"
            await asyncio.sleep(0.05)
        assert await row(kefu, young["id"]) is not None
