"""No ``assert`` as a runtime check in kefu: ``python -O`` strips them, so a broken
invariant would run on silently. Real errors name the expected and the actual state.
(ruff's S101 says the same at lint time; this holds without the linter too.)"""

from __future__ import annotations

import ast
from pathlib import Path

import kefu

SRC = Path(kefu.__file__).resolve().parent


def test_kefu_has_no_assert_statements() -> None:
    found = [
        f"{path.relative_to(SRC.parent)}:{node.lineno}"
        for path in sorted(SRC.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Assert)
    ]
    assert found == []
