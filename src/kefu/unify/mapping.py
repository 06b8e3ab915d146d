"""Field mapping: one source's reply -> a fragment of ``kefu.v1.UnifiedCustomer``.

Compiled once at start against the schema's descriptors and the connector's path
language, so an unknown field, a malformed path or a transform that cannot apply to its
field fails the start with the key that is wrong. Applying a mapping is then a loop over
prepared getters (read, transform) and setters (convert to the field's type).

A value that cannot become its field (a sub-document mapped to a text field, text in a
number) costs that field only, and is logged with the source and field name: never the
value, which is a customer's data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from decimal import Decimal
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from kefu.unify.connector import PathLanguage
from kefu.unify.convert import (
    Unconvertible,
    to_datetime,
    to_int32,
    to_json_value,
    to_text,
    to_text_list,
)
from kefu.unify.settings import FieldMap, SourceMap, TargetMap
from kefu.unify.transforms import (
    Placeholder,
    default_places,
    enum_key,
    join_values,
    load_zone,
    placeholders,
    render_template,
    scale,
)
from kefu.v1 import unified_pb2 as pb

log = logging.getLogger(__name__)

# Descriptor types differ between upb and the pure-Python runtime: typed loosely.
TARGETS: dict[str, Any] = {
    name: pb.UnifiedCustomer.DESCRIPTOR.fields_by_name[name].message_type
    for name in ("customer", "orders", "tickets", "calls")
}
# Filled by kefu, not by a mapping: the request's key and the source's name.
RESERVED = {"key", "source"}
TIMESTAMP = "google.protobuf.Timestamp"


class MappingError(ValueError):
    """A mapping that cannot work; ``where`` is the config path below ``map``."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


Setter = Callable[[Message, Any], None]


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    label: str  # "orders.total": what the log names when a value is dropped
    get: Callable[[Any], Any]
    set: Setter


@dataclass(frozen=True, slots=True)
class _Target:
    select: Callable[[Any], list[Any]]
    fields: tuple[_Field, ...]
    claimed: frozenset[str]  # top-level record fields a mapping reads


def _scalar_setter(field: FieldDescriptor, zone: tzinfo) -> Setter:
    name = field.name
    if field.type == FieldDescriptor.TYPE_STRING:
        if field.is_repeated:

            def set_texts(message: Message, value: Any) -> None:
                getattr(message, name).extend(to_text_list(value))

            return set_texts
        return lambda message, value: setattr(message, name, to_text(value))
    if field.type == FieldDescriptor.TYPE_INT32:
        return lambda message, value: setattr(message, name, to_int32(value))
    if field.message_type is not None and field.message_type.full_name == TIMESTAMP:

        def set_time(message: Message, value: Any) -> None:
            getattr(message, name).FromDatetime(to_datetime(value, zone))

        return set_time
    raise AssertionError(f"schema field {field.full_name} has no converter")  # schema drift


def _is_timestamp(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.full_name == TIMESTAMP


def _compile(
    from_: str | None,
    specs: dict[str, FieldMap],
    descriptor: Any,
    paths: PathLanguage,
    where: str,
    zone: tzinfo,
    source: str,
) -> _Target:
    try:
        select = paths.selector(from_)
    except ValueError as exc:
        raise MappingError(f"{where}.from", str(exc)) from None
    fields: list[_Field] = []
    claimed: set[str] = set()
    known = [f.name for f in descriptor.fields if f.name not in RESERVED]
    label = where.removeprefix("map.").replace(".fields.", ".")
    for name, spec in specs.items():
        at = f"{where}.fields.{name}"
        field = descriptor.fields_by_name.get(name)
        if field is None or name in RESERVED:
            raise MappingError(
                at, f"{descriptor.name} has no mappable field {name!r}; one of {', '.join(known)}"
            )
        nested = field.message_type is not None and not _is_timestamp(field)
        if nested:
            if spec.fields is None:
                raise MappingError(at, "a list of sub-records: map it as {from: PATH, fields: {…}}")
            inner = _compile(spec.from_, spec.fields, field.message_type, paths, at, zone, source)
            setter = _nested_setter(field, inner, source)
            fields.append(_Field(name, f"{label}.{name}", inner.select, setter))
            if spec.from_ is not None:
                claimed.add(paths.head(spec.from_))
            continue
        if spec.is_list:
            unknown = ", ".join(sorted(spec.fields or {}))
            raise MappingError(
                at,
                f"{descriptor.name}.{name} takes a path or a field spec (path, join, template, "
                f"scale, places, enum, default, timezone), not {unknown}",
            )
        getter, heads = _value_getter(spec, field, paths, at)
        claimed.update(heads)
        field_zone = load_zone(spec.timezone) if spec.timezone is not None else zone
        fields.append(_Field(name, f"{label}.{name}", getter, _scalar_setter(field, field_zone)))
    return _Target(select, tuple(fields), frozenset(claimed))


def _path_getter(paths: PathLanguage, path: str, at: str) -> Callable[[Any], Any]:
    try:
        return paths.getter(path)
    except ValueError as exc:
        raise MappingError(at, str(exc)) from None


def _reader(spec: FieldMap, paths: PathLanguage, at: str) -> tuple[Callable[[Any], Any], set[str]]:
    """How the raw value is read: one path, a join, a template or (for a constant) nothing."""
    if spec.path is not None:
        return _path_getter(paths, spec.path, at), {paths.head(spec.path)}
    if spec.join is not None:
        getters = [_path_getter(paths, path, f"{at}.join") for path in spec.join]
        separator = " " if spec.separator is None else spec.separator
        return (lambda record: join_values(getters, separator, record)), {
            paths.head(path) for path in spec.join
        }
    if spec.template is not None:
        parts: list[Any] = []
        heads: set[str] = set()
        for part in placeholders(spec.template):
            if isinstance(part, Placeholder):
                parts.append(_path_getter(paths, part.path, f"{at}.template"))
                heads.add(paths.head(part.path))
            else:
                parts.append(part)
        return (lambda record: render_template(parts, record)), heads
    return (lambda _record: None), set()


def _value_getter(
    spec: FieldMap, field: FieldDescriptor, paths: PathLanguage, at: str
) -> tuple[Callable[[Any], Any], set[str]]:
    """A function from a record to the field's value (None: leave the field unset), and
    the top-level record fields it reads (they leave the extensions)."""
    timestamp = _is_timestamp(field)
    if spec.timezone is not None and not timestamp:
        raise MappingError(f"{at}.timezone", f"{field.name} is not a date-time field")
    if (spec.scale is not None or spec.enum is not None) and (timestamp or field.is_repeated):
        option = "scale" if spec.scale is not None else "enum"
        raise MappingError(f"{at}.{option}", f"does not apply to the field {field.name}")
    read, heads = _reader(spec, paths, at)
    default = spec.default
    transform = _transform(spec, field)

    def get(record: Any) -> Any:
        value = read(record)
        if value is None or value == "":
            return default
        if transform is None:
            return value
        result = transform(value)
        return default if result is None else result

    return get, heads


def _transform(spec: FieldMap, field: FieldDescriptor) -> Callable[[Any], Any] | None:
    """``enum`` or ``scale`` as a function of the read value (None: no transform).

    An ``enum`` code it does not list gives None, so the field's ``default`` applies; with
    no default the code itself is shown, so an agent sees what the source said.
    """
    if spec.enum is not None:
        table = spec.enum
        fallback = spec.default is None
        return lambda value: table.get(enum_key(value), value if fallback else None)
    if spec.scale is not None:
        factor: Decimal = spec.scale
        integer = field.type == FieldDescriptor.TYPE_INT32
        places = (
            spec.places if spec.places is not None else 0 if integer else default_places(factor)
        )
        return lambda value: scale(value, factor, places)
    return None


def _nested_setter(field: FieldDescriptor, inner: _Target, source: str) -> Setter:
    name = field.name

    def set_records(message: Message, records: Any) -> None:
        container = getattr(message, name)
        for record in records:
            _fill(container.add(), inner, record, source)

    return set_records


def _fill(message: Message, target: _Target, record: Any, source: str) -> None:
    for field in target.fields:
        try:
            value = field.get(record)
            if value is None:
                continue
            field.set(message, value)
        except (ValueError, TypeError, OverflowError) as exc:
            # One odd value costs that field, not the customer's whole answer. The log
            # names the kind of value only: the value is customer data.
            reason = str(exc) if isinstance(exc, Unconvertible) else type(exc).__name__
            log.warning("source %s: %s dropped: %s", source, field.label, reason)


class Mapper:
    """A compiled ``map:`` section of one source."""

    def __init__(
        self, source: str, spec: SourceMap, paths: PathLanguage, timezone: str | None = None
    ) -> None:
        """``timezone``: the source's zone for naive date-times (UTC when None)."""
        self._source = source
        self._paths = paths
        self._zone = load_zone(timezone) if timezone is not None else UTC
        self._extensions = spec.extensions
        self._targets: dict[str, _Target] = {}
        # Lists other targets read (``orders`` of a CRM document) are not profile leftovers.
        selected: set[str] = set()
        for target_name, descriptor in TARGETS.items():
            target_spec: TargetMap | None = getattr(spec, target_name)
            if target_spec is not None:
                self._targets[target_name] = _compile(
                    target_spec.from_,
                    target_spec.fields,
                    descriptor,
                    paths,
                    f"map.{target_name}",
                    self._zone,
                    source,
                )
                if target_spec.from_ is not None and target_name != "customer":
                    selected.add(paths.head(target_spec.from_))
        self._selected = frozenset(selected)

    def apply(self, reply: Any) -> pb.UnifiedCustomer:
        """The fragment this reply contributes: its records, and their unclaimed fields."""
        fragment = pb.UnifiedCustomer()
        extensions: dict[str, Any] = {}
        for target_name, target in self._targets.items():
            records = target.select(reply) if reply is not None else []
            if target_name == "customer":
                if records:
                    _fill(fragment.customer, target, records[0], self._source)
                    profile_rest = self._leftovers(records[0], target)
                    for name, value in profile_rest.items():
                        if name not in self._selected:
                            extensions[name] = value
                continue
            container = getattr(fragment, target_name)
            per_record = []
            for record in records:
                item = container.add()
                _fill(item, target, record, self._source)
                item.source = self._source
                per_record.append(self._leftovers(record, target))
            if any(per_record):
                extensions[target_name] = per_record
        if self._extensions and extensions:
            fragment.extensions[self._source].update(extensions)
        return fragment

    def _leftovers(self, record: Any, target: _Target) -> dict[str, Any]:
        if not self._extensions:
            return {}
        return {
            name: to_json_value(value, self._zone)
            for name, value in self._paths.fields(record).items()
            if name not in target.claimed and value is not None
        }
