"""Issue 13's "Done when" for the tree's shape, checked on every run rather than once:

- no module in src/kefu over 500 lines (the schema, migrations and the demo's data
  excepted), no console module over 600;
- SQLAlchemy imported only in ``kefu.store``, the SQL connectors (the 360's ``sql``
  source, the sagas' ``sql`` action) and the demo's simulated department systems.
  All SQL on kefu's own tables is the store's (``kefu_tickets`` asks the store too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import kefu

ROOT = Path(kefu.__file__).parent
MAX_MODULE_LINES = 500
MAX_CONSOLE_LINES = 600
LONG_ALLOWED = {"store/tables.py", "demo_systems/dataset.py"}  # schema, demo data
# Over the limit while their authors are still building them (sagas, being written now);
# delete the entry once the module is split. Not checked for staleness, so finishing the
# split cannot turn the suite red.
KNOWN_LONG = {}
SQLALCHEMY_ALLOWED = ("store/", "demo_systems/", "unify/connectors/sql.py", "sagas/actions/sql.py")


def _modules() -> list[tuple[str, Path]]:
    return [(path.relative_to(ROOT).as_posix(), path) for path in sorted(ROOT.rglob("*.py"))]


def test_no_module_is_too_long() -> None:
    long = {
        name: lines
        for name, path in _modules()
        if not name.startswith("store/migrations/") and name not in LONG_ALLOWED
        if (lines := path.read_text(encoding="utf-8").count("\n")) > MAX_MODULE_LINES
    }
    assert sorted(set(long) - set(KNOWN_LONG)) == [], long


def test_no_console_module_is_too_long() -> None:
    long = [
        f"{path.name}: {lines} lines"
        for path in sorted((ROOT / "web" / "console").glob("*.js"))
        if (lines := path.read_text(encoding="utf-8").count("\n")) > MAX_CONSOLE_LINES
    ]
    assert long == []


def _imports_sqlalchemy(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "sqlalchemy" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            return True
    return False


def test_sqlalchemy_stays_in_the_store_and_the_sql_connectors() -> None:
    outside = [
        name
        for name, path in _modules()
        if not name.startswith(SQLALCHEMY_ALLOWED) and _imports_sqlalchemy(path)
    ]
    assert outside == []
