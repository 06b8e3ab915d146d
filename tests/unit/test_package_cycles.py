"""No import cycle between kefu's packages (issue 13).

A cycle between two packages means neither can be understood, tested or replaced without
the other: the layering DESIGN.md draws (api/chat -> services -> domain, adapters below)
only holds if the graph of imports between packages is acyclic. The graph is built from
the source with the stdlib ``ast`` (every ``import`` and ``from ... import``, including
ones inside functions and ``TYPE_CHECKING`` blocks, since those are dependencies too),
so the check needs no extra tool and runs in well under a second.

Nodes are kefu's first-level packages (``kefu.chat``, ``kefu.store`` ...). Imports inside
one package are its own business, and first-level modules (``kefu.ports``, ``kefu.config``,
``kefu.timefmt``, the composition roots ``kefu.bootstrap`` and ``kefu.node``) are not
packages: the settings root imports every package's settings and every package imports
it, by design.
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from pathlib import Path

import kefu

ROOT = Path(kefu.__file__).parent

# Known cycles still being taken apart by another part of issue 13, as (importing module,
# imported node) edges left out of the graph. Each must still exist (a stale entry fails,
# so the list only shrinks): delete the line when the import goes.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


def _node_of(module: str) -> str | None:
    """``kefu.chat.service`` -> ``kefu.chat``; a first-level module (``kefu.ports``) -> None."""
    parts = module.split(".")
    if parts[0] != "kefu" or len(parts) < 2:
        return None
    return f"kefu.{parts[1]}" if (ROOT / parts[1] / "__init__.py").is_file() else None


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> set[str]:
    """Every kefu module or name ``path`` imports, absolute."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from kefu import chat`` imports the package kefu.chat
            found.update(f"{base}.{alias.name}" for alias in node.names)
            found.add(base)
    return {name for name in found if name.startswith("kefu.")}


@functools.cache
def import_graph() -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    """Edges between nodes, and every (importing module, imported node) seen."""
    edges: dict[str, set[str]] = defaultdict(set)
    seen: set[tuple[str, str]] = set()
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        source = _node_of(module)
        if source is None:
            continue
        for name in _imports(path, module):
            target = _node_of(name)
            if target is None or target == source:
                continue
            seen.add((module, target))
            if (module, target) not in KNOWN_EXCEPTIONS:
                edges[source].add(target)
    return edges, seen


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _explain(component: list[str], edges: dict[str, set[str]]) -> str:
    """Which modules make each edge of a cycle, so the message says what to move."""
    members = set(component)
    _, seen = import_graph()
    lines = [" <-> ".join(component)]
    for module, target in sorted(seen):
        source = _node_of(module)
        if source in members and target in members and target in edges.get(source or "", ()):
            lines.append(f"    {module} imports {target}")
    return "\n".join(lines)


def test_no_import_cycle_between_packages() -> None:
    edges, _ = import_graph()
    found = cycles(edges)
    assert not found, "import cycles between kefu's packages:\n" + "\n".join(
        _explain(component, edges) for component in found
    )


def test_known_exceptions_still_exist() -> None:
    _, seen = import_graph()
    stale = sorted(edge for edge in KNOWN_EXCEPTIONS if edge not in seen)
    assert not stale, f"these imports are gone: remove them from KNOWN_EXCEPTIONS: {stale}"


def test_the_check_sees_a_cycle() -> None:
    """The detector itself: a two-node and a three-node cycle are found, a chain is not."""
    assert cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}}) == []
