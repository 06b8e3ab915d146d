"""Run Alembic on a connection we already hold.

Alembic's command API is synchronous; ``Database.migrate`` calls this through
``AsyncConnection.run_sync`` so migrations share the app's engine and event loop instead
of starting a second loop (the Alembic "async" cookbook recipe, connection-sharing form).

Every ``kefu`` command and every node start migrates first, and nearly always finds
nothing to do. Alembic is only imported when there is something to do: importing it
(with every dialect's DDL) and reading the revision scripts cost ~0.5 s of each
~2 s ``kefu agents …`` call, measured 2026-12-07. ``HEAD`` names the newest revision;
a test checks it against the scripts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions (tests/unit/test_migrate_head.py keeps it so).
HEAD = "0019"


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def current_revision(connection: Connection) -> str | None:
    """The store's revision as Alembic records it, read without Alembic."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def pending_revisions(connection: Connection) -> list[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    current = current_revision(connection)
    revisions = [rev.revision for rev in script.iterate_revisions("head", current)]
    return list(reversed(revisions))


def upgrade_to_head(connection: Connection) -> list[str]:
    if current_revision(connection) == HEAD:
        return []
    from alembic import command

    todo = pending_revisions(connection)
    if todo:
        command.upgrade(alembic_config(connection), "head")
    return todo
