"""Templates of saga actions: values only ever bound or escaped, never evaluated.

A placeholder is ``{path}``: a dotted path into the call's context (``input.order_id``,
``customer_key``, ``saga.id``, ``saga.name``, ``step.name``, ``step.action_key``,
``idempotency_key``, ``steps.<earlier step>.<field>``). ``{{`` and ``}}`` are literal
braces. Nothing in a value is ever read as template, SQL, XML or JSON syntax:

- JSON bodies: a string that is exactly ``"{path}"`` becomes the value itself, typed
  (a number stays a number, an object an object); a placeholder inside longer text is
  text, and the whole body is JSON-encoded afterwards.
- URL paths: each value is percent-encoded as (part of) one segment, so ``/``, ``?``,
  ``..`` in a value cannot reach another resource; an empty value is refused.
- SOAP/XML: each value is XML-escaped (quotes too); placeholders may stand only in
  element text and attribute values (checked at start).
- SQL: the statement is never templated; ``:name`` binds take their values from a
  ``params:`` map of paths, and ``:idempotency_key`` is always bound.
- Headers and query parameters: text, refused at run time if a value would put a line
  break in a header.

Templates are checked when the configuration is loaded (``ValueError`` with the reason).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from kefu.sagas.actions.base import ActionCall, ActionFailed, idempotency_key
from kefu.unify.connector import SourceFailure
from kefu.unify.connectors._http import (
    check_headers,
    check_path_shape,
    encode_segment,
    neutralise_dot_segments,
)
from kefu.unify.connectors.sql import BIND
from kefu.unify.connectors.xmlhttp import check_body_template, escape_value
from kefu.unify.paths import DOTTED

ROOTS: Final = frozenset({"input", "customer_key", "saga", "step", "idempotency_key", "steps"})
"""What a placeholder may start with: the context the engine hands an action."""

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_\-]+)*$")
_EXACT = re.compile(r"^\{([^{}]*)\}$")
MAX_TEXT_CHARS: Final = 100_000


def check_path(path: str) -> str:
    """``path`` if it is a dotted path into the context, else ``ValueError``."""
    if not _PATH.match(path):
        raise ValueError(f"{{{path}}} is not a placeholder (a dotted path such as input.order_id)")
    root = path.split(".", 1)[0]
    if root not in ROOTS:
        raise ValueError(
            f"{{{path}}}: unknown name {root!r}; use one of {', '.join(sorted(ROOTS))}"
        )
    if root in ("input", "steps") and "." not in path:
        raise ValueError(f"{{{path}}}: name a field, e.g. {{{root}.order_id}}")
    return path


def call_context(call: ActionCall) -> dict[str, Any]:
    """The context templates read: the engine's, plus what the call itself knows.

    ``idempotency_key`` is this call's key; ``step.action_key`` is the key of this step's
    action, which a compensation sends to say exactly which change to undo.
    """
    context = dict(call.context)
    saga = dict(context.get("saga") or {})
    saga.setdefault("id", call.saga_id)
    saga.setdefault("name", call.saga_name)
    step = dict(context.get("step") or {})
    step.setdefault("name", call.step)
    step["phase"] = call.phase
    step["attempt"] = call.attempt
    step["action_key"] = idempotency_key(call.saga_id, call.step, "action")
    context.update(saga=saga, step=step, idempotency_key=call.idempotency_key)
    return context


def lookup(context: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` (None when absent). A flat key ``"saga.id"`` wins."""
    if path in context:
        return context[path]
    return DOTTED.getter(path)(context)


def as_text(value: Any) -> str:
    """A value as template text: None is empty, booleans ``true``/``false``, numbers in
    plain notation, objects and lists as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f") if value == value else ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass(frozen=True, slots=True)
class Text:
    """A text template: literal parts and placeholders (``str`` and ``_Ref``)."""

    parts: tuple[str | _Ref, ...]

    @property
    def paths(self) -> list[str]:
        return [part.path for part in self.parts if isinstance(part, _Ref)]

    @property
    def placeholders(self) -> set[str]:
        return {"{" + path + "}" for path in self.paths}

    def render(self, context: Mapping[str, Any], encode: Callable[[Any], str] = as_text) -> str:
        return "".join(
            part if isinstance(part, str) else encode(lookup(context, part.path))
            for part in self.parts
        )


@dataclass(frozen=True, slots=True)
class _Ref:
    path: str


def parse_text(template: str) -> Text:
    """Parse ``template``; ``ValueError`` on a stray brace or a bad placeholder."""
    if len(template) > MAX_TEXT_CHARS:
        raise ValueError(f"template is longer than {MAX_TEXT_CHARS} characters")
    parts: list[str | _Ref] = []
    literal: list[str] = []
    position = 0
    for match in _TOKEN.finditer(template):
        literal.append(template[position : match.start()])
        position = match.end()
        token = match.group()
        if token in ("{{", "}}"):
            literal.append(token[0])
        elif match.group(1) is None:
            raise ValueError(f"stray {token!r} in {template!r}: write {token * 2} for a brace")
        else:
            parts.append("".join(literal))
            literal = []
            parts.append(_Ref(check_path(match.group(1).strip())))
    literal.append(template[position:])
    parts.append("".join(literal))
    return Text(tuple(part for part in parts if part != ""))


class JsonTemplate:
    """A JSON body: ``"{path}"`` alone is the typed value, other strings are text."""

    def __init__(self, document: Any) -> None:
        self._compiled = _compile_json(document, "body")

    def render(self, context: Mapping[str, Any]) -> Any:
        return _render_json(self._compiled, context)


@dataclass(frozen=True, slots=True)
class _Exact:
    path: str


def _compile_json(document: Any, where: str) -> Any:
    if isinstance(document, str):
        exact = _EXACT.match(document)
        if exact is not None:
            return _Exact(check_path(exact.group(1).strip()))
        text = parse_text(document)
        return text if text.paths else text.render({})
    if isinstance(document, Mapping):
        compiled: dict[str, Any] = {}
        for key, value in document.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: keys must be text, not {type(key).__name__}")
            if "{" in key or "}" in key:
                raise ValueError(f"{where}: a key ({key!r}) is never a template")
            compiled[key] = _compile_json(value, f"{where}.{key}")
        return compiled
    if isinstance(document, list | tuple):
        return [_compile_json(item, f"{where}[{i}]") for i, item in enumerate(document)]
    if document is None or isinstance(document, bool | int | float):
        if isinstance(document, float) and document != document:
            raise ValueError(f"{where}: NaN is not JSON")
        return document
    raise ValueError(f"{where}: {type(document).__name__} is not JSON")


def _render_json(compiled: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(compiled, _Exact):
        return _plain(copy.deepcopy(lookup(context, compiled.path)))
    if isinstance(compiled, Text):
        return compiled.render(context)
    if isinstance(compiled, dict):
        return {key: _render_json(value, context) for key, value in compiled.items()}
    if isinstance(compiled, list):
        return [_render_json(item, context) for item in compiled]
    return compiled


def _plain(value: Any) -> Any:
    """A context value as JSON can carry it (a Decimal as a number, others as text)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


class PathTemplate:
    """A URL path relative to the base URL; each value one encoded segment (or part)."""

    def __init__(self, template: str) -> None:
        self._text = parse_text(template)
        check_path_shape(self._text.render({}, lambda _value: "x"))

    def render(self, context: Mapping[str, Any]) -> str:
        def encode(value: Any) -> str:
            text = as_text(value)
            if not text:
                raise ActionFailed("a placeholder of the path has no value", retryable=False)
            return encode_segment(text)

        return neutralise_dot_segments(self._text.render(context, encode))


class XmlTemplate:
    """An XML document (a SOAP envelope) whose values are escaped as XML text."""

    def __init__(self, template: str) -> None:
        self._text = parse_text(template)
        # The check wants the template with each placeholder written as in the source.
        check_body_template(_canonical(self._text), self._text.placeholders)

    def render(self, context: Mapping[str, Any]) -> bytes:
        def encode(value: Any) -> str:
            try:
                return escape_value(as_text(value))
            except SourceFailure:
                raise ActionFailed(
                    "a value has characters XML cannot carry", retryable=False
                ) from None

        return self._text.render(context, encode).encode("utf-8")


def _canonical(text: Text) -> str:
    """The template back as text with ``{path}`` placeholders and literal braces as is."""
    return "".join(part if isinstance(part, str) else "{" + part.path + "}" for part in text.parts)


class HeaderTemplates:
    """Header values (and query parameters) as text templates."""

    def __init__(self, templates: Mapping[str, str], *, headers: bool) -> None:
        if headers:
            check_headers({name: "x" for name in templates})
        self._texts = {name: parse_text(value) for name, value in templates.items()}
        self._headers = headers

    def render(self, context: Mapping[str, Any]) -> dict[str, str]:
        rendered = {name: text.render(context) for name, text in self._texts.items()}
        if self._headers:
            try:
                check_headers(rendered)
            except ValueError:
                raise ActionFailed("a header value has a line break", retryable=False) from None
        return rendered


class SqlParams:
    """The binds of a write statement: ``:name`` from ``params`` paths, typed as given.

    ``:idempotency_key`` is always bound to the call's key; every other bind must be in
    ``params``, and every entry of ``params`` must be used.
    """

    IMPLICIT: Final = frozenset({"idempotency_key"})

    def __init__(self, statements: Collection[str], params: Mapping[str, str]) -> None:
        used: set[str] = set()
        for statement in statements:
            used |= set(BIND.findall(statement))
        for name, path in params.items():
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise ValueError(f"params: {name!r} is not a bind name")
            if name in self.IMPLICIT:
                raise ValueError(f"params: :{name} is always bound to the call's key")
            check_path(path.strip("{} "))
        unset = sorted(used - set(params) - self.IMPLICIT)
        if unset:
            raise ValueError(
                f"statement binds {', '.join(':' + n for n in unset)}: map them in params"
            )
        unused = sorted(set(params) - used)
        if unused:
            raise ValueError(f"params {', '.join(unused)} are not used by the statement")
        self._params = {name: path.strip("{} ") for name, path in params.items()}
        self.binds_key = "idempotency_key" in used

    def values(self, context: Mapping[str, Any]) -> dict[str, Any]:
        values = {name: _bindable(lookup(context, path)) for name, path in self._params.items()}
        if self.binds_key:
            values["idempotency_key"] = context["idempotency_key"]
        return values


def _bindable(value: Any) -> Any:
    """A context value as a driver binds it: scalars as they are, objects as JSON text."""
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(_plain(value), ensure_ascii=False)
    return value
