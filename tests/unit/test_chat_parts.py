"""The chat service is made of parts with one job each (issue 13).

``ChatService`` once held everything (760 lines, 51 methods, 16 ``_shared is None``
branches). Now the choice between one node's board and the store deciding for several
nodes is made once, by picking an ``Assigner``; these checks keep it that way.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from kefu.chat.assigner import Assigner
from kefu.chat.local_assigner import LocalAssigner
from kefu.chat.store_assigner import StoreAssigner

CHAT = Path(__file__).resolve().parents[2] / "src" / "kefu" / "chat"
# STYLE.md: split a module that passes ~500 lines or a class past ~400.
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 400


def test_no_chat_module_or_class_is_too_big() -> None:
    problems = []
    for path in sorted(CHAT.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            problems.append(f"{path.name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    problems.append(f"{path.name}: class {node.name} is {size} lines")
    assert not problems, problems


def test_nothing_outside_the_assigners_asks_which_kind_it_has() -> None:
    """Only the assigners know whether the store or this node decides: no other chat
    module tests for a ``shared`` assignment store or for an assigner's class."""
    problems = []
    for path in sorted(CHAT.glob("*.py")):
        if path.name in ("local_assigner.py", "store_assigner.py", "service.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("_shared", "shared"):
                problems.append(f"{path.name}:{node.lineno}: .{node.attr}")
            if isinstance(node, ast.Name) and node.id in ("LocalAssigner", "StoreAssigner"):
                problems.append(f"{path.name}:{node.lineno}: {node.id}")
    service = ast.parse((CHAT / "service.py").read_text(encoding="utf-8"))
    branches = [
        n.lineno
        for n in ast.walk(service)
        if isinstance(n, ast.Compare) and "shared" in ast.unparse(n.left)
    ]
    # service.py picks the assigner once, in its constructor.
    assert len(branches) <= 1, f"service.py tests `shared` at lines {branches}"
    assert not problems, problems


def _members(cls: type) -> dict[str, inspect.Signature | None]:
    found: dict[str, inspect.Signature | None] = {}
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        found[name] = None if isinstance(value, property) else inspect.signature(value)
    return found


def test_both_assigners_implement_the_whole_protocol_alike() -> None:
    wanted = _members(Assigner)
    for cls in (LocalAssigner, StoreAssigner):
        have = {name: sig for name, sig in _members(cls).items() if name in wanted}
        assert have.keys() == wanted.keys(), f"{cls.__name__} lacks {wanted.keys() - have}"
        for name, signature in wanted.items():
            theirs = have[name]
            if signature is None or theirs is None:
                assert signature is theirs, f"{cls.__name__}.{name}: property or not"
                continue
            assert list(theirs.parameters) == list(signature.parameters), (cls, name)
            assert inspect.iscoroutinefunction(getattr(cls, name)) == (
                inspect.iscoroutinefunction(getattr(Assigner, name))
            ), (cls, name)
