"""The value transforms of a field mapping: ``scale``, ``enum``, ``template``, ``join``, and
time zones of naive date-times.

Pure functions over values, compiled from configuration once at start. Nothing here
evaluates configuration text: a template is split into literal text and field paths by a
regular expression, and every path is read by the connector's own path language (a dict
lookup or an XPath), never as a Python expression, so ``{a.__class__}`` or ``{0!r}`` in a
config can do nothing but be refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kefu.unify.convert import Unconvertible, to_text

MAX_PLACES = 18
"""Decimal places a scaled number may keep: far past any currency's minor unit (3 at
most) or a rate's precision, and within Decimal's default 28 significant digits for the
amounts a department system holds."""

_PRECISION = 60
"""Significant digits while scaling: enough that no amount a database can hold (a
DECIMAL(65, 30) included) is rounded before the one rounding we mean."""

_TEMPLATE_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
# What a Python format string would treat as a conversion or a format spec: refused, so
# nobody believes ``{amount:.2f}`` formats (it would silently read a field "amount:.2f").
_FORMAT_SYNTAX = re.compile(r"![rsa]?$|![rsa]?:|:(?![A-Za-z_])")


def load_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ``ValueError`` naming it when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: give an IANA name such as Asia/Shanghai or UTC"
        ) from None


def to_decimal(value: Any) -> Decimal:
    """A number from a source value: an int, a Decimal, a float (by its shortest repr, so
    0.1 is 0.1) or numeric text. Booleans and anything else are refused."""
    if isinstance(value, bool):
        raise Unconvertible("a boolean is not a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str | bytes):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            raise Unconvertible("text that is not a number") from None
    else:
        raise Unconvertible(f"a {type(value).__name__} is not a number")
    if not number.is_finite():
        raise Unconvertible("not a finite number")
    return number


def default_places(factor: Decimal) -> int:
    """Places a scaled value keeps unless told: the factor's own (0.01 -> 2, so fen become
    yuan with both fen digits: 12850 -> 128.50)."""
    exponent = factor.as_tuple().exponent
    return min(MAX_PLACES, max(0, -exponent)) if isinstance(exponent, int) else 0


def scale(value: Any, factor: Decimal, places: int) -> Decimal:
    """``value * factor`` in decimal arithmetic, rounded half up to ``places`` places.

    Half up (四舍五入) is how prices and refunds are rounded in commerce; decimal, so
    1 fen * 0.01 is exactly 0.01 yuan and never 0.01000000000000000020816681711721685.
    """
    number = to_decimal(value)
    with localcontext() as context:
        context.prec = _PRECISION
        try:
            return (number * factor).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
        except InvalidOperation:
            raise Unconvertible("a number too large to scale") from None


def enum_key(value: Any) -> str:
    """A code as the text an ``enum`` table is keyed by: an integral number as its digits
    (MySQL's 1, Mongo's 1.0, XML's "1" and a YAML key 1 are one code), text stripped,
    booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, str):
        return value.strip()
    return to_text(value).strip()


def check_template_syntax(template: str) -> None:
    """``ValueError`` naming the problem when ``template`` is not text with ``{path}``s."""
    placeholders(template)


def placeholders(template: str) -> list[str | Placeholder]:
    """Split a template into literal text and placeholders (``{{``/``}}`` are braces).

    A placeholder holds a field path and nothing else: a conversion (``!r``), a format
    spec (``:>10``) or a name with ``__`` (``{a.__class__}``) is refused, though kefu would
    only ever have looked such a name up as a field.
    """
    parts: list[str | Placeholder] = []
    position = 0
    literal: list[str] = []
    for match in _TEMPLATE_TOKEN.finditer(template):
        literal.append(template[position : match.start()])
        position = match.end()
        token = match.group()
        if token in ("{{", "}}"):
            literal.append(token[0])
            continue
        path = match.group(1)
        if path is None:
            raise ValueError(f"unmatched {token!r}: write {token * 2} for a literal brace")
        path = path.strip()
        if not path:
            raise ValueError("an empty {} placeholder: write {path} with a field path")
        if "__" in path:
            raise ValueError(f"{{{path}}} is refused: placeholders are field paths, not attributes")
        if _FORMAT_SYNTAX.search(path):
            raise ValueError(
                f"{{{path}}} is refused: placeholders take a field path only, "
                "no conversions or format specs (use scale for numbers)"
            )
        text = "".join(literal)
        if text:
            parts.append(text)
        literal = []
        parts.append(Placeholder(path))
    literal.append(template[position:])
    if "".join(literal):
        parts.append("".join(literal))
    if not any(isinstance(part, Placeholder) for part in parts):
        raise ValueError("a template needs at least one {path} placeholder")
    return parts


@dataclass(frozen=True, slots=True)
class Placeholder:
    path: str


Getter = Callable[[Any], Any]


def _as_text(value: Any) -> str:
    return "" if value is None else to_text(value)


def render_template(parts: Sequence[str | Getter], record: Any) -> str | None:
    """The template filled from ``record``; None when every placeholder was empty, so a
    missing name falls back to the field's ``default`` rather than to the bare literals."""
    out: list[str] = []
    found = False
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        text = _as_text(part(record))
        found = found or bool(text)
        out.append(text)
    return "".join(out) if found else None


def join_values(getters: Sequence[Getter], separator: str, record: Any) -> str | None:
    """The non-empty values joined by ``separator``; None when all are empty."""
    texts = [text for text in (_as_text(get(record)) for get in getters) if text]
    return separator.join(texts) if texts else None
