import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CustomerProfile(_message.Message):
    __slots__ = ("key", "name", "email", "phone", "tier", "company", "locale", "tags", "customer_since")
    KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_SINCE_FIELD_NUMBER: _ClassVar[int]
    key: str
    name: str
    email: str
    phone: str
    tier: str
    company: str
    locale: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    customer_since: _timestamp_pb2.Timestamp
    def __init__(self, key: _Optional[str] = ..., name: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ..., tier: _Optional[str] = ..., company: _Optional[str] = ..., locale: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., customer_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OrderLine(_message.Message):
    __slots__ = ("sku", "name", "quantity", "unit_price")
    SKU_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    sku: str
    name: str
    quantity: int
    unit_price: str
    def __init__(self, sku: _Optional[str] = ..., name: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price: _Optional[str] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("id", "status", "total", "currency", "created_at", "lines", "source")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: str
    total: str
    currency: str
    created_at: _timestamp_pb2.Timestamp
    lines: _containers.RepeatedCompositeFieldContainer[OrderLine]
    source: str
    def __init__(self, id: _Optional[str] = ..., status: _Optional[str] = ..., total: _Optional[str] = ..., currency: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[OrderLine, _Mapping]]] = ..., source: _Optional[str] = ...) -> None: ...

class ServiceTicket(_message.Message):
    __slots__ = ("id", "subject", "status", "priority", "created_at", "updated_at", "source")
    ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    subject: str
    status: str
    priority: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    source: str
    def __init__(self, id: _Optional[str] = ..., subject: _Optional[str] = ..., status: _Optional[str] = ..., priority: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ...) -> None: ...

class Call(_message.Message):
    __slots__ = ("id", "direction", "agent", "duration_seconds", "outcome", "notes", "started_at", "source")
    ID_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    direction: str
    agent: str
    duration_seconds: int
    outcome: str
    notes: str
    started_at: _timestamp_pb2.Timestamp
    source: str
    def __init__(self, id: _Optional[str] = ..., direction: _Optional[str] = ..., agent: _Optional[str] = ..., duration_seconds: _Optional[int] = ..., outcome: _Optional[str] = ..., notes: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ...) -> None: ...

class SourceStatus(_message.Message):
    __slots__ = ("state", "latency_ms", "fetched_at", "truncated")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[SourceStatus.State]
        STATE_OK: _ClassVar[SourceStatus.State]
        STATE_CACHED: _ClassVar[SourceStatus.State]
        STATE_TIMEOUT: _ClassVar[SourceStatus.State]
        STATE_ERROR: _ClassVar[SourceStatus.State]
        STATE_CIRCUIT_OPEN: _ClassVar[SourceStatus.State]
    STATE_UNSPECIFIED: SourceStatus.State
    STATE_OK: SourceStatus.State
    STATE_CACHED: SourceStatus.State
    STATE_TIMEOUT: SourceStatus.State
    STATE_ERROR: SourceStatus.State
    STATE_CIRCUIT_OPEN: SourceStatus.State
    STATE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    FETCHED_AT_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    state: SourceStatus.State
    latency_ms: float
    fetched_at: _timestamp_pb2.Timestamp
    truncated: bool
    def __init__(self, state: _Optional[_Union[SourceStatus.State, str]] = ..., latency_ms: _Optional[float] = ..., fetched_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class UnifiedCustomer(_message.Message):
    __slots__ = ("customer", "orders", "tickets", "calls", "extensions", "sources", "generated_at")
    class ExtensionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Struct
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
    class SourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: SourceStatus
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[SourceStatus, _Mapping]] = ...) -> None: ...
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    customer: CustomerProfile
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    tickets: _containers.RepeatedCompositeFieldContainer[ServiceTicket]
    calls: _containers.RepeatedCompositeFieldContainer[Call]
    extensions: _containers.MessageMap[str, _struct_pb2.Struct]
    sources: _containers.MessageMap[str, SourceStatus]
    generated_at: _timestamp_pb2.Timestamp
    def __init__(self, customer: _Optional[_Union[CustomerProfile, _Mapping]] = ..., orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., tickets: _Optional[_Iterable[_Union[ServiceTicket, _Mapping]]] = ..., calls: _Optional[_Iterable[_Union[Call, _Mapping]]] = ..., extensions: _Optional[_Mapping[str, _struct_pb2.Struct]] = ..., sources: _Optional[_Mapping[str, SourceStatus]] = ..., generated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CustomerKey(_message.Message):
    __slots__ = ("key", "refresh")
    KEY_FIELD_NUMBER: _ClassVar[int]
    REFRESH_FIELD_NUMBER: _ClassVar[int]
    key: str
    refresh: bool
    def __init__(self, key: _Optional[str] = ..., refresh: _Optional[bool] = ...) -> None: ...
