"""Issue 13 item 1's wall, checked on every run: services work through a unit of work's
repositories (``uow.tickets``, ``uow.sagas``, ``uow.mail``, ``uow.webhooks``,
``uow.processed``, ``uow.routing``, ``uow.dead_letters``), never through the database
connection under it.

- Outside ``kefu.store`` nothing reads a ``.connection`` attribute (the unit of work's
  ``connection`` is for the store's own code), except the entries below.
- Outside ``kefu.store`` nothing imports a store function that takes a connection
  (``AsyncConnection`` in its signature): such a function only works with a connection
  in hand, which services no longer have.

SQLAlchemy imports themselves are ``test_layout``'s check. Both scans read the source
with ``ast`` (no import of the scanned modules for the first).
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
from pathlib import Path

import kefu
from tests.support.source import forgotten_after_the_module

ROOT = Path(kefu.__file__).parent

# (module, expression) pairs allowed to read ``.connection`` outside the store.
CONNECTION_ALLOWED: dict[tuple[str, str], str] = {
    # Not a database connection: a data source's connection settings (URL, DSN, headers).
    ("sagas/actions/build.py", "source.connection"): "a connector's settings",
    ("unify/build.py", "settings.connection"): "a connector's settings",
}

# (module, imported store name) pairs allowed to import a connection-taking store function
# (none: events/ moved onto uow.processed, uow.routing and uow.dead_letters, 2026-12-07).
CONNECTION_FUNCTIONS_ALLOWED: dict[tuple[str, str], str] = {}


@functools.cache
def _outside_store() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if not name.startswith("store/"):
            found.append((name, ast.parse(path.read_text(encoding="utf-8"), str(path))))
    return found


_forget_the_parsed_source = forgotten_after_the_module(_outside_store)


def test_nothing_outside_the_store_reads_a_connection_attribute() -> None:
    found = sorted(
        f"{name}:{node.lineno}: {ast.unparse(node)}"
        for name, tree in _outside_store()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "connection"
        if (name, ast.unparse(node)) not in CONNECTION_ALLOWED
    )
    assert found == [], "use the unit of work's repositories (uow.tickets, ...)"


def _takes_a_connection(thing: object) -> bool:
    if not inspect.isfunction(thing):
        return False
    annotations = [str(p.annotation) for p in inspect.signature(thing).parameters.values()]
    return any("AsyncConnection" in annotation for annotation in annotations)


def test_nothing_outside_the_store_imports_a_function_taking_a_connection() -> None:
    found = []
    for name, tree in _outside_store():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(
                "kefu.store"
            ):
                continue
            module = importlib.import_module(node.module or "")
            for alias in node.names:
                thing = getattr(module, alias.name, None)
                qualified = f"{node.module}.{alias.name}"
                if _takes_a_connection(thing) and (
                    (name, qualified) not in CONNECTION_FUNCTIONS_ALLOWED
                ):
                    found.append(f"{name}:{node.lineno}: {qualified}")
    assert found == [], "call the unit of work's repositories instead"


def test_the_checks_see_what_they_guard() -> None:
    """The scans would catch a service reaching for the connection: fed a snippet that
    does, they report it (so an empty answer above means something)."""
    snippet = ast.parse("async def f(uow):\n    await store.enqueue(uow.connection, 1)\n")
    hits = [n for n in ast.walk(snippet) if isinstance(n, ast.Attribute) and n.attr == "connection"]
    assert [ast.unparse(n) for n in hits] == ["uow.connection"]
    from kefu.store.processed_events import record

    assert _takes_a_connection(record)
    assert not _takes_a_connection(importlib.import_module("kefu.store.unit_of_work"))
