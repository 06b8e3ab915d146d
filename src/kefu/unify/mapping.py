"""Field mapping: one source's reply -> a fragment of ``kefu.v1.UnifiedCustomer``.

Compiled once at start against the schema's descriptors and the connector's path
language, so an unknown field or a malformed path fails the start with the key that is
wrong. Applying a mapping is then a loop over prepared getters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from kefu.unify.connector import PathLanguage
from kefu.unify.convert import to_datetime, to_int32, to_json_value, to_text, to_text_list
from kefu.unify.settings import SourceMap, TargetMap
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
    get: Callable[[Any], Any]
    set: Setter


@dataclass(frozen=True, slots=True)
class _Target:
    select: Callable[[Any], list[Any]]
    fields: tuple[_Field, ...]
    claimed: frozenset[str]  # top-level record fields a mapping reads


def _scalar_setter(field: FieldDescriptor) -> Setter:
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
            getattr(message, name).FromDatetime(to_datetime(value))

        return set_time
    raise AssertionError(f"schema field {field.full_name} has no converter")  # schema drift


def _compile(spec: TargetMap, descriptor: Any, paths: PathLanguage, where: str) -> _Target:
    try:
        select = paths.selector(spec.from_)
    except ValueError as exc:
        raise MappingError(f"{where}.from", str(exc)) from None
    fields: list[_Field] = []
    claimed: set[str] = set()
    known = [f.name for f in descriptor.fields if f.name not in RESERVED]
    for name, source_path in spec.fields.items():
        at = f"{where}.fields.{name}"
        field = descriptor.fields_by_name.get(name)
        if field is None or name in RESERVED:
            raise MappingError(
                at, f"{descriptor.name} has no mappable field {name!r}; one of {', '.join(known)}"
            )
        nested = field.message_type is not None and field.message_type.full_name != TIMESTAMP
        if nested:
            if not isinstance(source_path, TargetMap):
                raise MappingError(at, "a list of sub-records: map it as {from: PATH, fields: {…}}")
            inner = _compile(source_path, field.message_type, paths, at)
            fields.append(_Field(name, inner.select, _nested_setter(field, inner)))
            if source_path.from_ is not None:
                claimed.add(paths.head(source_path.from_))
            continue
        if not isinstance(source_path, str):
            raise MappingError(at, f"{descriptor.name}.{name} takes a path, not a mapping")
        try:
            getter = paths.getter(source_path)
            claimed.add(paths.head(source_path))
        except ValueError as exc:
            raise MappingError(at, str(exc)) from None
        fields.append(_Field(name, getter, _scalar_setter(field)))
    return _Target(select, tuple(fields), frozenset(claimed))


def _nested_setter(field: FieldDescriptor, inner: _Target) -> Setter:
    name = field.name

    def set_records(message: Message, records: Any) -> None:
        container = getattr(message, name)
        for record in records:
            _fill(container.add(), inner, record)

    return set_records


def _fill(message: Message, target: _Target, record: Any) -> None:
    for field in target.fields:
        value = field.get(record)
        if value is None:
            continue
        try:
            field.set(message, value)
        except (ValueError, TypeError, OverflowError) as exc:
            # One odd value costs that field, not the customer's whole answer.
            log.warning("mapping %s: %s", field.name, exc)


class Mapper:
    """A compiled ``map:`` section of one source."""

    def __init__(self, source: str, spec: SourceMap, paths: PathLanguage) -> None:
        self._source = source
        self._paths = paths
        self._extensions = spec.extensions
        self._targets: dict[str, _Target] = {}
        # Lists other targets read (``orders`` of a CRM document) are not profile leftovers.
        selected: set[str] = set()
        for target_name, descriptor in TARGETS.items():
            target_spec: TargetMap | None = getattr(spec, target_name)
            if target_spec is not None:
                self._targets[target_name] = _compile(
                    target_spec, descriptor, paths, f"map.{target_name}"
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
                    _fill(fragment.customer, target, records[0])
                    profile_rest = self._leftovers(records[0], target)
                    for name, value in profile_rest.items():
                        if name not in self._selected:
                            extensions[name] = value
                continue
            container = getattr(fragment, target_name)
            per_record = []
            for record in records:
                item = container.add()
                _fill(item, target, record)
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
            name: to_json_value(value)
            for name, value in self._paths.fields(record).items()
            if name not in target.claimed and value is not None
        }
