"""Declarative rules: which events lead to which actions (the ``rules:`` section).

Pure: matching, conditions and templates work on plain values, so every rule is unit
tested without a store or a bus. Validated once at start; a bad pattern, condition or
action stops the start naming its key (``rules.1.when.0: …``).

    rules:
      - name: complaint-escalation
        on: customer.complaint               # NATS-style: * one token, > the rest
        when: ['data.severity in ["high", "critical"]', 'customer.tier == "vip"']
        do:
          - create_ticket: {subject: "Complaint: {data.summary}", priority: high, queue: managers}
          - notify: {role: supervisor, message: "Complaint from {customer.name}"}
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from kefu.domain.roles import Role

SUBJECT_TOKEN = re.compile(r"^[a-z0-9_-]+$")
# {path} or {path|fallback}: the fallback is plain text shown when the value is missing.
TEMPLATE_FIELD = re.compile(r"\{([a-z_][a-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)(?:\|([^{}|]*))?\}")
FIELD_PATH = re.compile(r"^[a-z_][a-z0-9_]*(?:\.[A-Za-z0-9_-]+)*$")
# What a missing value leaves behind and render() tidies away: empty brackets, a space
# before punctuation, separators at either end ("Complaint from ():" must not be shown).
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]|\uff08\s*\uff09|\"\s*\"|'\s*'")
_SPACE_BEFORE = re.compile(r"\s+([:,.;!?\uff1a\uff0c\u3002])")
_EDGES = " \t:;,-|/\u2013\u2014\uff1a\uff0c"
CONDITION = re.compile(
    r"^\s*(?P<path>[a-z_][a-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\s+"
    r"(?P<op>==|!=|>=|<=|>|<|not in|in|contains|exists|not exists)\s*(?P<value>.*?)\s*$"
)
ROOTS = ("data", "customer", "event", "customer_key")
Priority = Literal["low", "normal", "high", "urgent"]


def check_pattern(pattern: str) -> str:
    """NATS subject pattern over event types: ``customer.*``, ``ticket.>``, ``>``."""
    tokens = pattern.split(".")
    for index, part in enumerate(tokens):
        if part == ">" and index == len(tokens) - 1:
            continue
        if part != "*" and not SUBJECT_TOKEN.match(part):
            raise ValueError(
                f"{pattern!r} is not an event pattern: dot-separated lowercase tokens, "
                "* for one token, > (last) for the rest"
            )
    return pattern


def matches(pattern: str, event_type: str) -> bool:
    wanted = pattern.split(".")
    actual = event_type.split(".")
    for index, part in enumerate(wanted):
        if part == ">":
            return len(actual) > index
        if index >= len(actual) or (part != "*" and part != actual[index]):
            return False
    return len(actual) == len(wanted)


def lookup(context: Mapping[str, Any], path: str) -> Any:
    return _lookup(context, path.split("."))


def _lookup(context: Mapping[str, Any], parts: Sequence[str]) -> Any:
    value: Any = context
    for part in parts:
        # A plain dict first: what events and contexts are, and isinstance against the
        # Mapping ABC costs more than the look-up (twice per rendered field, per event).
        if type(value) is dict or isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is None:
            return None
    return value


def render(template: str, context: Mapping[str, Any]) -> str:
    """``"Complaint: {data.summary}"`` with values from the context. A missing (or blank)
    value shows its fallback (``{customer.name|a customer}``), else nothing, and what it
    leaves behind is tidied: no empty brackets, no dangling separators."""
    pieces = _template(template)
    if len(pieces) == 1:
        return template  # no field in it
    if len(pieces) == 3:  # one field ("Complaint: {data.summary}"): no list, no join
        head, field, tail = pieces
        if isinstance(head, str) and isinstance(tail, str) and not isinstance(field, str):
            found = _lookup(context, field[0])
            text = "" if found is None else found if type(found) is str else str(found)
            if text.strip():  # else its fallback and tidying, below
                return f"{head}{text}{tail}"
    out: list[str] = []
    gaps = False
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        path, fallback = piece
        found = _lookup(context, path)
        text = "" if found is None else str(found)
        if not text.strip():
            text = fallback or ""
            gaps = gaps or not text
        out.append(text)
    rendered = "".join(out)
    return tidy(rendered) if gaps else rendered


def tidy(text: str) -> str:
    """Remove what empty values leave: ``"Complaint from ():"`` -> ``"Complaint from"``."""
    previous = None
    while previous != text:
        previous = text
        text = _EMPTY_BRACKETS.sub("", text)
        text = _SPACE_BEFORE.sub(r"\1", text)
        text = re.sub(r"[ \t]{2,}", " ", text).strip(_EDGES)
    return text


def missing(required: Sequence[str], context: Mapping[str, Any]) -> list[str]:
    """The required paths whose value is absent, null or blank."""
    return [path for path in required if _blank(lookup(context, path))]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == {}


def refusal(
    rules: Sequence[RuleSettings], event_type: str, context: Mapping[str, Any]
) -> str | None:
    """Why ``POST /api/v1/events`` refuses the event (422), or None: a rule of its type
    with ``on_missing: refuse`` requires a field it lacks. Reads the settings, so it needs
    no 360 (``customer.*`` cannot be required)."""
    for rule in rules:
        if not (rule.enabled and rule.require and rule.on_missing == "refuse"):
            continue
        if any(matches(pattern, event_type) for pattern in rule.on):
            gone = missing(rule.require, context)
            if gone:
                return f"rule {rule.name!r} requires {', '.join(gone)}"
    return None


@functools.lru_cache(maxsize=1024)
def _template(template: str) -> tuple[str | tuple[tuple[str, ...], str | None], ...]:
    """Literal text and fields (path split, fallback), in order: a rule's templates are
    parsed once, not per event."""
    pieces: list[str | tuple[tuple[str, ...], str | None]] = []
    at = 0
    for match in TEMPLATE_FIELD.finditer(template):
        pieces.append(template[at : match.start()])
        pieces.append((tuple(match.group(1).split(".")), match.group(2)))
        at = match.end()
    pieces.append(template[at:])
    return tuple(pieces)


@dataclass(frozen=True, slots=True)
class Condition:
    path: str
    op: str
    value: Any

    @classmethod
    def parse(cls, text: str) -> Condition:
        found = CONDITION.match(text)
        if found is None:
            raise ValueError(
                f'{text!r} is not a condition: PATH OP VALUE, e.g. customer.tier == "vip" '
                "(ops: == != > >= < <= in, not in, contains, exists, not exists)"
            )
        path, op, raw = found.group("path"), found.group("op"), found.group("value")
        if path.split(".")[0] not in ROOTS:
            raise ValueError(f"{path!r} must start with one of {', '.join(ROOTS)}")
        if op in ("exists", "not exists"):
            if raw:
                raise ValueError(f"{op} takes no value")
            return cls(path, op, None)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(
                f'{raw!r} is not a JSON value (strings in double quotes: "vip")'
            ) from None
        if op in ("in", "not in") and not isinstance(value, list):
            raise ValueError(f'{op} needs a JSON list, e.g. ["vip", "gold"]')
        return cls(path, op, value)

    def holds(self, context: Mapping[str, Any]) -> bool:
        actual = lookup(context, self.path)
        op, wanted = self.op, self.value
        if op == "exists":
            return actual is not None and actual != ""
        if op == "not exists":
            return actual is None or actual == ""
        if op == "==":
            return bool(actual == wanted)
        if op == "!=":
            return bool(actual != wanted)
        if op == "in":
            return actual in wanted
        if op == "not in":
            return actual not in wanted
        if op == "contains":
            return isinstance(actual, str | list) and wanted in actual
        try:
            if op == ">":
                return bool(actual > wanted)
            if op == ">=":
                return bool(actual >= wanted)
            if op == "<":
                return bool(actual < wanted)
            return bool(actual <= wanted)
        except TypeError:
            return False  # comparing a missing or differently typed value: not a match


# ---- actions --------------------------------------------------------------------------


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateTicket(_Action):
    subject: str = Field(min_length=1, max_length=300)
    body: str = "{data}"
    priority: Priority = "normal"
    queue: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    # An agent's email, or a role: the least busy active agent with it gets the ticket.
    assignee: str | None = None
    role: Role | None = None


class SetPriority(_Action):
    """The priority of the ticket the event is about (``data.ticket_id``) or the rule made."""

    priority: Priority


class Assign(_Action):
    """Give the ticket (made by this rule, or ``data.ticket_id``) to a queue, role or agent."""

    queue: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    role: Role | None = None
    agent: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Assign:
        if sum(v is not None for v in (self.queue, self.role, self.agent)) != 1:
            raise ValueError("give exactly one of queue, role, agent")
        return self


class TicketFromOfflineMessage(_Action):
    """``offline_message.created`` -> the message's ticket (linked, made once)."""

    priority: Priority = "normal"


class RouteCustomer(_Action):
    """Chat routing for the event's customer: ``vip`` conversations are served first."""

    queue: Literal["vip", "standard"]


class Notify(_Action):
    role: Role = Role.SUPERVISOR
    message: str = Field(min_length=1, max_length=1000)


class StartSaga(_Action):
    """Start a configured saga (``sagas:``) for the event's customer. ``input`` values are
    templates; one that is a single placeholder (``"{data.amount}"``) keeps the value's
    type. Started once per event, even when the event is delivered again."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    input: dict[str, Any] = Field(default_factory=dict)


class Emit(_Action):
    type: str
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if "*" in value or ">" in value:
            raise ValueError("an emitted event has a concrete type, not a pattern")
        return check_pattern(value)


ACTIONS: dict[str, type[_Action]] = {
    "create_ticket": CreateTicket,
    "set_priority": SetPriority,
    "assign": Assign,
    "route_customer": RouteCustomer,
    "ticket_from_offline_message": TicketFromOfflineMessage,
    "notify": Notify,
    "emit": Emit,
    "start_saga": StartSaga,
}


@dataclass(frozen=True, slots=True)
class CallWebhook:
    endpoint: str


Action = (
    CreateTicket
    | TicketFromOfflineMessage
    | SetPriority
    | Assign
    | RouteCustomer
    | Notify
    | Emit
    | StartSaga
    | CallWebhook
)


class RuleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,79}$")
    on: list[str] = Field(min_length=1)
    when: list[str] = Field(default_factory=list)
    do: list[dict[str, Any]] = Field(min_length=1)
    enabled: bool = True
    # Fields an event must carry for this rule (template paths: data.summary,
    # customer_key, event.source); absent, null or blank counts as missing. ``refuse``:
    # POST /api/v1/events answers 422 and stores nothing (an event from NATS that lacks
    # them is not acted on by this rule); ``dead_letter``: the event is accepted and goes
    # to the dead letters with the reason, for an admin to fix and replay.
    require: list[str] = Field(default_factory=list)
    on_missing: Literal["refuse", "dead_letter"] = "refuse"

    @field_validator("require")
    @classmethod
    def _required_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not FIELD_PATH.match(path) or path.split(".")[0] not in ROOTS:
                raise ValueError(f"{path!r} is not a field path (data.…, customer_key, event.…)")
            if path.split(".")[0] == "customer":
                raise ValueError(f"{path!r}: the 360 is not the event's to carry")
        return value

    @field_validator("on", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("on")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        return [check_pattern(pattern) for pattern in value]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    patterns: tuple[str, ...]
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]
    required: tuple[str, ...] = ()
    on_missing: str = "refuse"
    # Conditions or templates need the customer 360 (``customer.*``); worked out once,
    # as the consumer asks it per event.
    reads_customer: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        texts = [c.path for c in self.conditions] + [repr(a) for a in self.actions]
        object.__setattr__(self, "reads_customer", any("customer." in t for t in texts))

    def holds(self, context: Mapping[str, Any]) -> bool:
        """The conditions, for an event already known to match a pattern."""
        return all(condition.holds(context) for condition in self.conditions)


def compile_rules(
    rules: list[RuleSettings], webhooks: set[str], sagas: set[str] | None = None
) -> list[Rule]:
    """Rules ready to evaluate; ``ValueError("<index>.<where>: problem")`` when one is wrong.
    ``sagas``: the configured saga names ``start_saga`` may name (None: not checked)."""
    compiled: list[Rule] = []
    seen: set[str] = set()
    for index, spec in enumerate(rules):
        if spec.name in seen:
            raise ValueError(f"{index}.name: {spec.name!r} appears twice")
        seen.add(spec.name)
        if not spec.enabled:
            continue
        conditions = []
        for at, text in enumerate(spec.when):
            try:
                conditions.append(Condition.parse(text))
            except ValueError as exc:
                raise ValueError(f"{index}.when.{at}: {exc}") from None
        actions: list[Action] = []
        for at, entry in enumerate(spec.do):
            action = _action(entry, webhooks, f"{index}.do.{at}")
            if isinstance(action, StartSaga) and sagas is not None and action.name not in sagas:
                known = ", ".join(sorted(sagas)) or "none configured"
                raise ValueError(
                    f"{index}.do.{at}.start_saga: {action.name!r} is not a saga ({known})"
                )
            actions.append(action)
        compiled.append(
            Rule(
                spec.name,
                tuple(spec.on),
                tuple(conditions),
                tuple(actions),
                tuple(spec.require),
                spec.on_missing,
            )
        )
    return compiled


def _action(entry: dict[str, Any], webhooks: set[str], where: str) -> Action:
    if "start_saga" in entry and isinstance(entry["start_saga"], str):
        # - start_saga: refund
        #   input: {order_id: "{data.order_id}"}
        rest = {k: v for k, v in entry.items() if k != "start_saga"}
        entry = {"start_saga": {"name": entry["start_saga"], **rest}}
    if len(entry) != 1:
        raise ValueError(f"{where}: one action per list item, e.g. - notify: {{…}}")
    ((kind, options),) = entry.items()
    if kind == "webhook":
        if not isinstance(options, str) or options not in webhooks:
            known = ", ".join(sorted(webhooks)) or "none configured"
            raise ValueError(f"{where}.webhook: {options!r} is not a webhook ({known})")
        return CallWebhook(options)
    model = ACTIONS.get(kind)
    if model is None:
        known = ", ".join(sorted([*ACTIONS, "webhook"]))
        raise ValueError(f"{where}: unknown action {kind!r}; one of {known}")
    try:
        return model.model_validate(options or {})  # type: ignore[return-value]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        at = f"{where}.{kind}.{field}" if field else f"{where}.{kind}"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ValueError(f"{at}: {message}") from None
