"""docs/configuration.md's "Every key" table against the settings models.

Every settings field, nested ones included, must have a row whose default is the
model's, and every row must name a field. A failure prints the rows to add or fix, so
whoever adds a setting can paste them and fill in the type.

Paths are as a config file writes them: ``chat.agent_capacity``; ``<name>`` stands for a
key the operator chooses (``sources.<name>.ttl_seconds``) and ``[]`` for each item of a
list (``rules[].on``). A section that always exists (``chat``, ``events.jetstream``)
needs no row of its own; its fields do. The mapping under ``sources.<name>.map`` has its
own reference in docs/connectors.md ("Mapping" and "Transforms"); the table needs its
row, and rows below it (the field specs) are allowed but not walked here.

The default column starts with the default written as YAML in backticks (`` `5` ``,
`` `[]` ``, `` `{default: {}}` ``), or a double-quoted string, or ``null``/``unset`` for
none, or ``required``; anything after that is free text. It is compared by validating it
as the field's type, so `` `25` `` matches ``25.0`` and `` `.kefu` `` a ``Path``.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from kefu import yaml12
from kefu.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
# Subtrees documented elsewhere: their own row is required, their fields are not walked.
DOCUMENTED_ELSEWHERE = {"sources.<name>.map": "docs/connectors.md"}
NO_DEFAULT = ("null", "unset")


def _model_inside(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """The model a field holds and how: ``""`` itself (or optional), ``.<name>`` as a
    mapping's values, ``[]`` as a list's items; None for anything else."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "", annotation
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (Union, types.UnionType):
        present = [arg for arg in args if arg is not type(None)]
        return _model_inside(present[0]) if len(present) == 1 else None
    inner = {dict: (args[1:], ".<name>"), list: (args, "[]")}.get(origin)
    if inner and inner[0]:
        found = _model_inside(inner[0][0])
        if found and not found[0]:
            return inner[1], found[1]
    return None


def _is_section(field: FieldInfo) -> bool:
    """A model field that is always there (``chat``): its fields are the keys."""
    found = _model_inside(field.annotation)
    return (
        found is not None
        and not found[0]
        and not field.is_required()
        and isinstance(field.get_default(call_default_factory=True), BaseModel)
    )


def settings_keys(
    model: type[BaseModel] = Settings, prefix: str = ""
) -> Iterator[tuple[str, FieldInfo]]:
    """Every key a config file may write, as a dotted path, with its field."""
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        if not _is_section(field):
            yield path, field
        found = _model_inside(field.annotation)
        if found and path not in DOCUMENTED_ELSEWHERE:
            how, inner = found
            yield from settings_keys(inner, f"{path}{how}.")


def documented_rows() -> dict[str, tuple[str, str]]:
    """The table's rows: path -> (environment cell, default cell)."""
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Every key", 1)[1].split("\n\n", 2)[1]
    rows: dict[str, tuple[str, str]] = {}
    previous = ""
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        found = re.match(r"`([^`]+)`", cells[0])
        assert found, f"docs/configuration.md: a row without a `key`: {line}"
        path = _continued(found.group(1), previous)
        assert path not in rows, f"docs/configuration.md: {path} twice"
        rows[path] = (cells[1], cells[3])
        previous = path
    return rows


def _continued(path: str, previous: str) -> str:
    """A row written ``….fields.<field>.scale`` continues the row above it
    (``sources.<name>.map.<target>.fields.<field>``) from where they overlap."""
    if not path.startswith("…"):
        return path
    tail = path.removeprefix("…")
    first = "." + tail.split(".")[1]  # ".fields"
    cut = previous.rfind(first)
    assert cut >= 0, f"docs/configuration.md: {path} continues no row above it"
    return previous[:cut] + tail


def _elsewhere(path: str) -> bool:
    return any(path.startswith(f"{root}.") for root in DOCUMENTED_ELSEWHERE)


def expected_env(path: str) -> str:
    """The variable that sets ``path``: its own, or its list's or mapping's (as JSON)."""
    container = re.split(r"\[\]|\.<name>", path, maxsplit=1)[0]
    return "KEFU_" + container.upper().replace(".", "__")


def documented_default(cell: str) -> tuple[str, Any] | None:
    """("value", parsed) or ("required", None); None if the cell follows no form."""
    quoted = re.match(r"`([^`]*)`|(\"[^\"]*\")", cell)
    if quoted:
        return "value", yaml12.load(quoted.group(1) or quoted.group(2))
    if cell.startswith(NO_DEFAULT):
        return "value", None
    if cell.startswith("required"):
        return "required", None
    return None


def default_literal(field: FieldInfo) -> str:
    """The default as the table writes it, for a row to paste."""
    if field.is_required():
        return "required"
    value = TypeAdapter(Any).dump_python(field.get_default(call_default_factory=True), mode="json")
    return "null" if value is None else f"`{json.dumps(value, ensure_ascii=False)}`"


def default_problem(field: FieldInfo, cell: str) -> str | None:
    documented = documented_default(cell)
    if documented is None:
        return 'start the default cell with `value`, a "string", null/unset or required'
    kind, value = documented
    if field.is_required():
        return None if kind == "required" else "the field has no default: write required"
    if kind == "required":
        return "the field has a default"
    default = field.get_default(call_default_factory=True)
    typed: Any = field.annotation
    if field.metadata:  # the constraints (ge=, pattern=) pydantic keeps beside the type
        typed = Annotated[typed, *field.metadata]
    adapter: TypeAdapter[Any] = TypeAdapter(typed)
    try:
        parsed = adapter.validate_python(value) if value is not None else None
    except ValidationError as exc:
        return f"{value!r} is not a value of this key ({exc.errors()[0]['msg']})"
    return None if parsed == default else "the model's default differs"


def test_every_settings_key_is_in_the_table_with_its_default() -> None:
    rows = documented_rows()
    keys = dict(settings_keys())
    problems = []
    for path, field in keys.items():
        env = expected_env(path)
        if path not in rows:
            problems.append(f"missing: | `{path}` | `{env}` | TYPE | {default_literal(field)} |")
            continue
        env_cell, default_cell = rows[path]
        if f"`{env}`" not in env_cell:
            problems.append(f"{path}: the environment cell must name `{env}`, not {env_cell}")
        problem = default_problem(field, default_cell)
        if problem:
            problems.append(
                f"{path}: default cell {default_cell!r}: {problem}; the model's is "
                f"{default_literal(field)}"
            )
    stale = {path for path in rows.keys() - keys if not _elsewhere(path)}
    problems += [f"{path}: a row for no settings field (remove it)" for path in sorted(stale)]
    assert not problems, "docs/configuration.md, table 'Every key':\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("path", "env"),
    [
        ("chat.agent_capacity", "KEFU_CHAT__AGENT_CAPACITY"),
        ("sources.<name>.retry.attempts", "KEFU_SOURCES"),
        ("rules[].on", "KEFU_RULES"),
        ("chat.auto_replies[].reply", "KEFU_CHAT__AUTO_REPLIES"),
    ],
)
def test_environment_names_follow_the_nesting(path: str, env: str) -> None:
    assert expected_env(path) == env


def test_the_walk_reaches_nested_and_repeated_keys() -> None:
    """A walk that stopped early would pass the table test with an empty table."""
    keys = dict(settings_keys())

    for path in (
        "events.jetstream.ack_wait_seconds",
        "tickets.sla_policies.<name>.warn_before_minutes",
        "webhooks.<name>.url",
        "rules[].on",
        "sources.<name>.lookup.<name>.key",
        "sources.<name>.map",
        "chat.office_hours.timezone",
    ):
        assert path in keys
    assert "chat" not in keys  # a section: its fields are the keys
    assert not any(path.startswith("sources.<name>.map.") for path in keys)
