"""``kefu.store.migrate.HEAD`` lets an up-to-date store skip Alembic altogether; it must
name the newest revision script, and the commands must not import Alembic to start."""

from __future__ import annotations

import subprocess
import sys

from alembic.script import ScriptDirectory

from kefu.store.migrate import HEAD, alembic_config


def test_head_is_the_newest_revision_script() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_the_cli_and_the_store_load_without_alembic() -> None:
    """Importing Alembic (every dialect's DDL) was ~0.5 s of each ``kefu`` command."""
    probe = "import sys, kefu.cli, kefu.store.database; print('alembic' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "False", done.stderr
