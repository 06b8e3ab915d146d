"""Two nodes' settings for cluster tests: one PostgreSQL store, one NATS, one token
secret, a live subject of their own, and a data dir each."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from kefu.config import Settings, load_settings
from tests.support.nats import NatsServer
from tests.support.postgres import postgres_database

# Announcements every half second (the default is 5 s): the nodes know each other's
# audiences within a second, long enough that a busy test machine does not make them stale.
QUICK_HEARTBEAT = {"heartbeat_seconds": 0.5, "presence_ttl_seconds": 2.0}


@contextlib.asynccontextmanager
async def two_nodes_settings(
    tmp_path: Path, nats: NatsServer, **cluster: Any
) -> AsyncIterator[list[Settings]]:
    """Two nodes' settings: one store, one NATS, one token secret; own data dirs."""
    secret = secrets.token_hex(32)
    subject = f"kefu.live.t{secrets.token_hex(4)}"
    async with postgres_database() as store:
        yield [
            load_settings(
                None,
                data_dir=tmp_path / name,
                store=store,
                bus=nats.url,
                cluster={"subject": subject, **cluster},
                auth={"secret_key": secret},
            )
            for name in ("a", "b")
        ]
