"""YAML read with the YAML 1.2 core schema, as config files are written today.

PyYAML implements YAML 1.1, where ``on``, ``off``, ``yes``, ``no``, ``y`` and ``n`` are
booleans, ``08:00`` is a base-60 integer (480), ``010`` is octal and ``1_000`` is a number.
A rule's ``on: customer.upgrade`` thus became ``True: customer.upgrade`` and was refused as
a missing ``on``. YAML 1.2 (2009) and every current YAML tool read all of those as the
text they look like; only ``true``/``false`` (any of three casings) are booleans.

``Yaml12Loader`` is PyYAML's safe loader (no object construction from tags) with its
implicit resolvers replaced by the 1.2 core schema's (spec chapter 10.3.2): null, bool,
int (decimal, ``0o`` octal, ``0x`` hex) and float. Dates are not resolved implicitly in
1.2: ``2026-12-25`` stays text, which pydantic parses where a date is expected. The ``<<``
merge key of YAML 1.1 is kept, so files that share blocks through anchors still load.
A small subclass rather than another parser: PyYAML is already a dependency, and the
schema is the one thing that differs.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["Yaml12Loader", "load"]

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_MERGE = re.compile(r"^(?:<<)$")

_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


class Yaml12Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` resolving plain scalars by the YAML 1.2 core schema."""

    # Replaced, not extended: PyYAML's 1.1 resolvers would otherwise still match first.
    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    text = str(loader.construct_scalar(node))
    if not _BOOL.match(text):  # an explicit ``!!bool yes``: not a 1.2 boolean
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a boolean (true or false)", node.start_mark
        )
    return text.lower() == "true"


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    # PyYAML's own constructor reads a leading 0 as octal and knows no "0o"; 1.2 does the reverse.
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    sign = -1.0 if text.startswith("-") else 1.0
    bare = text.lstrip("+-")
    if bare == ".inf":
        return sign * float("inf")
    if bare == ".nan":
        return float("nan")
    return float(text)


for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
    (_BOOL_TAG, _BOOL, list("tTfF")),
    (_INT_TAG, _INT, list("-+0123456789")),
    (_FLOAT_TAG, _FLOAT, list("-+.0123456789")),
    ("tag:yaml.org,2002:merge", _MERGE, ["<"]),
):
    Yaml12Loader.add_implicit_resolver(_tag, _pattern, _first)
Yaml12Loader.add_constructor(_BOOL_TAG, _construct_bool)
Yaml12Loader.add_constructor(_INT_TAG, _construct_int)
Yaml12Loader.add_constructor(_FLOAT_TAG, _construct_float)


def load(text: str) -> Any:
    """The one document in ``text``, read as YAML 1.2 (raises ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
