"""Run Alembic on a connection we already hold.

Alembic's command API is synchronous; ``Database.migrate`` calls this through
``AsyncConnection.run_sync`` so migrations share the app's engine and event loop instead
of starting a second loop (the Alembic "async" cookbook recipe, connection-sharing form).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def pending_revisions(connection: Connection) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    current = MigrationContext.configure(connection).get_current_revision()
    revisions = [rev.revision for rev in script.iterate_revisions("head", current)]
    return list(reversed(revisions))


def upgrade_to_head(connection: Connection) -> list[str]:
    todo = pending_revisions(connection)
    if todo:
        command.upgrade(alembic_config(connection), "head")
    return todo
