"""kefu's files are private: data dir 0700, database, secret and attachments 0600.

Run as operators run it: the ``kefu`` CLI in a subprocess with a fresh ``KEFU_DATA_DIR``
(``migrate``, ``serve``), then ``os.stat`` on what it created; and a data dir an older
kefu left readable, tightened at the next start with a log line.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from aiohttp import ClientSession

from tests.support.cli import clean_env, kefu_cli, kefu_serve

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SQLITE_FILES = ("kefu.db", "kefu.db-wal", "kefu.db-shm")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def loose(data_dir: Path) -> dict[str, str]:
    """Every path under ``data_dir`` (itself included) whose mode is not private."""
    found = {}
    for path in [data_dir, *data_dir.rglob("*")]:
        wanted = 0o700 if path.is_dir() else 0o600
        if mode(path) != wanted:
            found[str(path.relative_to(data_dir))] = oct(mode(path))
    return found


async def upload_a_file(url: str) -> None:
    async with ClientSession() as http:
        async with http.post(url + "/api/v1/visitors", json={}) as resp:
            assert resp.status == 201, await resp.text()
            token = (await resp.json())["token"]
        async with http.post(
            url + "/api/v1/attachments?name=photo.png",
            data=PNG,
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            assert resp.status == 201, await resp.text()


async def test_migrate_creates_a_private_data_dir_and_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    result = await kefu_cli("migrate", env=clean_env(KEFU_DATA_DIR=str(data_dir)))

    assert result.returncode == 0, result.stderr
    assert (data_dir / "kefu.db").exists()
    assert mode(data_dir) == 0o700
    assert loose(data_dir) == {}


async def test_serve_keeps_database_secret_and_attachments_private(
    tmp_path: Path, store_url: str
) -> None:
    data_dir = tmp_path / "data"
    sqlite = store_url.startswith("sqlite")
    # On SQLite the default store: the database in the data dir, as operators run it.
    store = {} if sqlite else {"KEFU_STORE": store_url}
    env = clean_env(KEFU_DATA_DIR=str(data_dir), **store)

    async with kefu_serve(env) as (url, _):
        await upload_a_file(url)
        # While it runs: the SQLite database's -wal and -shm exist too.
        running = loose(data_dir)
        blobs = [p for p in (data_dir / "attachments").rglob("*") if p.is_file()]
        database = [name for name in SQLITE_FILES if (data_dir / name).exists()]

    assert running == {}
    assert (data_dir / "secret.key").exists()
    assert blobs, "the upload left no file"
    assert database == (list(SQLITE_FILES) if sqlite else [])
    assert loose(data_dir) == {}


async def test_serve_tightens_what_an_older_kefu_left_readable_and_says_so(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    env = clean_env(KEFU_DATA_DIR=str(data_dir))
    result = await kefu_cli("migrate", env=env)
    assert result.returncode == 0, result.stderr
    (data_dir / "secret.key").write_text(secrets.token_urlsafe(48), encoding="ascii")
    blob_dir = data_dir / "attachments" / "ab"
    blob_dir.mkdir(parents=True)
    (blob_dir / ("ab" + "0" * 62)).write_bytes(PNG)
    unrelated = data_dir / "notes.txt"  # an operator's own file: not kefu's to change
    unrelated.write_text("mine")
    for path in [data_dir, *data_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)

    async with kefu_serve(env) as (_, stderr):
        pass

    assert loose(data_dir) == {"notes.txt": oct(0o644)}
    assert any("tightened permissions" in line for line in stderr), stderr
