"""The mapping vocabulary's pure parts (scale, enum, template, join, time zones), the
conversions behind it, and the field specs' validation at start."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.config import load_settings
from kefu.errors import ConfigError
from kefu.unify.convert import Unconvertible, to_datetime, to_int32, to_json_value, to_text
from kefu.unify.mapping import Mapper, MappingError
from kefu.unify.paths import DOTTED
from kefu.unify.render import as_dict
from kefu.unify.settings import SourceMap
from kefu.unify.transforms import (
    Placeholder,
    default_places,
    enum_key,
    placeholders,
    scale,
    to_decimal,
)

SHANGHAI_NOON = datetime(2026, 3, 1, 12, 0, 0)  # naive, as MySQL's DATETIME comes back


# --- scale --------------------------------------------------------------------------------


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_fen_become_yuan_exactly_with_two_places(fen: int) -> None:
    yuan = scale(fen, Decimal("0.01"), default_places(Decimal("0.01")))
    sign = "-" if fen < 0 else ""
    assert to_text(yuan) == f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from([1, 2, 3]))
def test_scaling_text_floats_and_decimals_agree(amount: int, places: int) -> None:
    factor = Decimal("0.001")
    as_int = scale(amount, factor, places)
    assert scale(str(amount), factor, places) == as_int
    assert scale(Decimal(amount), factor, places) == as_int
    if amount < 2**53:
        assert scale(float(amount), factor, places) == as_int


def test_scale_rounds_half_up_in_decimal() -> None:
    assert to_text(scale("12850.5", Decimal("0.01"), 2)) == "128.51"  # half up, not even
    assert to_text(scale("12850.4", Decimal("0.01"), 2)) == "128.50"
    assert to_text(scale(0.1, Decimal(3), 1)) == "0.3"  # a float's shortest repr, not 0.30000…
    assert to_text(scale(-5, Decimal("0.1"), 0)) == "-1"  # half away from zero
    assert default_places(Decimal("0.01")) == 2 and default_places(Decimal(100)) == 0


@pytest.mark.parametrize("value", [True, "12 fen", {"fen": 1}, [1], None, "NaN", float("inf")])
def test_scale_refuses_what_is_not_a_number(value: Any) -> None:
    with pytest.raises(Unconvertible) as caught:
        scale(value, Decimal("0.01"), 2)
    assert "12" not in str(caught.value) and "fen" not in str(caught.value)  # no value


def test_to_decimal_keeps_a_floats_shortest_form() -> None:
    assert to_decimal(0.1) == Decimal("0.1") and to_decimal(" 7 ") == Decimal(7)


# --- enum codes ---------------------------------------------------------------------------


@given(st.integers(min_value=-(2**52), max_value=2**52))
def test_an_integral_code_is_one_key_however_it_arrives(code: int) -> None:
    key = enum_key(code)
    assert enum_key(str(code)) == key
    assert enum_key(float(code)) == key
    assert enum_key(Decimal(code)) == key
    assert enum_key(Decimal(code).quantize(Decimal("0.0"))) == key


def test_text_codes_are_stripped_and_booleans_named() -> None:
    assert enum_key(" A ") == "A" and enum_key(True) == "true" and enum_key(1.5) == "1.5"


# --- templates ----------------------------------------------------------------------------


def test_template_splits_into_literals_and_paths() -> None:
    assert placeholders("{name.last}{name.first}") == [
        Placeholder("name.last"),
        Placeholder("name.first"),
    ]
    assert placeholders("{{{a}}} - {b}") == ["{", Placeholder("a"), "} - ", Placeholder("b")]
    assert placeholders("{c:Name}") == [Placeholder("c:Name")]  # an XPath with a prefix


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{a.__class__}", "not attributes"),
        ("{__globals__}", "not attributes"),
        ("{a!r}", "no conversions"),
        ("{a:>10}", "no conversions"),
        ("{amount:.2f}", "no conversions"),
        ("{}", "empty"),
        ("{a", "unmatched"),
        ("a}", "unmatched"),
        ("no placeholder", "at least one"),
    ],
)
def test_templates_that_look_like_code_are_refused(template: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        placeholders(template)


@given(st.text(max_size=10), st.text(max_size=10))
def test_a_placeholder_with_a_double_underscore_is_always_refused(before: str, after: str) -> None:
    path = f"{before}__{after}".replace("{", "").replace("}", "")
    with pytest.raises(ValueError):
        placeholders("{" + path + "}")


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=20))
def test_doubled_braces_round_trip_as_literal_text(literal: str) -> None:
    template = "{{" + literal + "}}{x}"
    parts = placeholders(template)
    assert "".join(p for p in parts if isinstance(p, str)) == "{" + literal + "}"


# --- conversions --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [{"first": "芳", "last": "王"}, ["a", "b"], object()])
def test_an_object_is_not_text(value: Any) -> None:
    with pytest.raises(Unconvertible) as caught:
        to_text(value)
    assert "芳" not in str(caught.value)


def test_conversion_errors_never_carry_the_value() -> None:
    for convert, value in (
        (to_int32, "13800138000x"),
        (to_int32, 2**40),
        (to_datetime, "13800138000x"),
    ):
        with pytest.raises(Unconvertible) as caught:
            convert(value)
        assert "13800138000" not in str(caught.value)


def test_a_date_and_a_time_column_make_one_date_time_through_a_template() -> None:
    from datetime import time, timedelta

    m = mapper({"orders": {"id": "NO", "created_at": {"template": "{D} {T}"}}}, "Asia/Shanghai")
    rows = [
        {"NO": "a", "D": date(2026, 3, 1), "T": timedelta(hours=9, minutes=5)},  # MySQL TIME
        {"NO": "b", "D": "2026-03-01", "T": time(23, 59, 59)},
    ]
    body = as_dict(m.apply(rows))
    assert [o["created_at"] for o in body["orders"]] == [
        "2026-03-01T01:05:00Z",
        "2026-03-01T15:59:59Z",
    ]
    assert to_text(timedelta(hours=-1, microseconds=5)) == "-00:59:59.999995"


def test_naive_times_are_read_in_the_given_zone() -> None:
    from zoneinfo import ZoneInfo

    shanghai = ZoneInfo("Asia/Shanghai")
    assert to_datetime(SHANGHAI_NOON, shanghai) == datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    assert to_datetime("2026-03-01 12:00:00", shanghai) == datetime(2026, 3, 1, 4, tzinfo=UTC)
    # An offset or an aware value is an instant already: the zone changes nothing.
    assert to_datetime("2026-03-01T12:00:00Z", shanghai) == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert to_datetime(date(2026, 3, 1), shanghai) == datetime(2026, 2, 28, 16, tzinfo=UTC)
    assert to_datetime(SHANGHAI_NOON) == datetime(2026, 3, 1, 12, tzinfo=UTC)  # default UTC
    assert to_json_value({"at": SHANGHAI_NOON}, shanghai) == {"at": "2026-03-01T04:00:00Z"}


# --- whole mappings -----------------------------------------------------------------------


def mapper(spec: dict[str, Any], timezone: str | None = None) -> Mapper:
    return Mapper("orders", SourceMap.model_validate(spec), DOTTED, timezone)


def test_a_mapping_with_every_transform() -> None:
    m = mapper(
        {
            "customer": {
                "name": {"template": "{name.last}{name.first}"},
                "tier": {"path": "level", "enum": {1: "standard", 3: "vip"}, "default": "?"},
                "company": {"join": ["org.dept", "org.name"], "separator": " / "},
                "locale": {"default": "zh-CN"},
            },
            "orders": {
                "from": "orders",
                "fields": {
                    "id": "ORDER_NO",
                    "status": {"path": "STATUS", "enum": {0: "pending", 1: "paid"}},
                    "total": {"path": "AMOUNT_FEN", "scale": 0.01},
                    "currency": {"default": "CNY"},
                    "created_at": "CREATED_AT",
                },
            },
        },
        timezone="Asia/Shanghai",
    )
    reply = {
        "name": {"first": "芳", "last": "王"},
        "level": 3,
        "org": {"name": "Acme"},
        "points": 12850,
        "orders": [
            {"ORDER_NO": "SO-1", "STATUS": 1, "AMOUNT_FEN": 12850, "CREATED_AT": SHANGHAI_NOON},
            {"ORDER_NO": "SO-2", "STATUS": 7, "AMOUNT_FEN": 5, "CREATED_AT": SHANGHAI_NOON},
        ],
    }
    body = as_dict(m.apply(reply))
    assert body["customer"] == {
        "key": "",
        "name": "王芳",
        "email": "",
        "phone": "",
        "tier": "vip",
        "company": "Acme",
        "locale": "zh-CN",
        "tags": [],
    }
    first, second = body["orders"]
    assert (first["status"], first["total"], first["currency"]) == ("paid", "128.50", "CNY")
    assert first["created_at"] == "2026-03-01T04:00:00Z"  # Shanghai noon is 04:00 UTC
    assert (second["status"], second["total"]) == ("7", "0.05")  # unknown code shown as is
    points = body["extensions"]["orders"]["points"]
    assert points == 12850 and isinstance(points, int)


def test_an_unknown_code_takes_the_default_and_missing_values_too() -> None:
    m = mapper(
        {"orders": {"id": "no", "status": {"path": "s", "enum": {1: "paid"}, "default": "?"}}}
    )
    body = as_dict(m.apply([{"no": "a", "s": 9}, {"no": "b"}, {"no": "c", "s": "1"}]))
    assert [o["status"] for o in body["orders"]] == ["?", "?", "paid"]


def test_an_object_mapped_to_text_is_dropped_and_logged_without_its_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    m = mapper({"customer": {"name": "name", "email": "email"}})
    with caplog.at_level(logging.WARNING, logger="kefu.unify.mapping"):
        body = as_dict(m.apply({"name": {"first": "芳", "last": "王"}, "email": "f@x.test"}))
    assert body["customer"]["name"] == "" and body["customer"]["email"] == "f@x.test"
    [record] = caplog.records
    assert "orders" in record.getMessage() and "customer.name" in record.getMessage()
    assert "芳" not in caplog.text and "first" not in caplog.text


def test_integral_extension_numbers_are_json_integers() -> None:
    m = mapper({"customer": {"name": "n"}})
    body = as_dict(m.apply({"n": "x", "points": 12850, "rate": 0.5, "big": 2**60, "neg": -3}))
    ext = body["extensions"]["orders"]
    assert ext == {"points": 12850, "rate": 0.5, "big": str(2**60), "neg": -3}
    assert isinstance(ext["points"], int) and isinstance(ext["neg"], int)


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"orders": {"total": {"path": "a", "scale": 1, "enum": {1: "x"}}}}, None),
        (
            {"orders": {"created_at": {"path": "a", "scale": 0.01}}},
            "map.orders.fields.created_at.scale",
        ),
        (
            {"orders": {"total": {"path": "a", "timezone": "Asia/Shanghai"}}},
            "map.orders.fields.total.timezone",
        ),
        ({"customer": {"tags": {"path": "a", "enum": {1: "x"}}}}, "map.customer.fields.tags.enum"),
        ({"customer": {"name": {"template": "{a..b}"}}}, "map.customer.fields.name.template"),
        ({"customer": {"name": {"join": ["a", "b..c"]}}}, "map.customer.fields.name.join"),
        ({"customer": {"name": {"pth": "a"}}}, "map.customer.fields.name"),
    ],
)
def test_a_transform_that_cannot_apply_names_its_key(
    spec: dict[str, Any], where: str | None
) -> None:
    if where is None:  # refused by the settings model
        with pytest.raises(ValueError, match="scale or enum"):
            SourceMap.model_validate(spec)
        return
    with pytest.raises(MappingError) as caught:
        mapper(spec)
    assert caught.value.where == where, caught.value


def source(field: Any, **extra: Any) -> dict[str, Any]:
    return {
        "connector": "mysql",
        "connection": {"url": "mysql://u@h/db"},
        "request": {"query": "SELECT 1 FROM t WHERE k = :value"},
        "map": {"orders": {"fields": {"total": field}}},
    } | extra


@pytest.mark.parametrize(
    ("sources", "line"),
    [
        (
            {"orders": source({"path": "AMOUNT", "scale": 0})},
            "sources.orders.map.orders.fields.total.scale: must be a positive number",
        ),
        (
            {"orders": source({"path": "AMOUNT", "scale": -100})},
            "sources.orders.map.orders.fields.total.scale: must be a positive number",
        ),
        (
            {"orders": source({"path": "AMOUNT", "scale": 0.01, "places": 40})},
            "sources.orders.map.orders.fields.total.places: must be a whole number from 0 to 18",
        ),
        (
            {"orders": source({"template": "{a.__class__}"})},
            "sources.orders.map.orders.fields.total.template: {a.__class__} is refused",
        ),
        (
            {"orders": source({"template": "{0!r}"})},
            "sources.orders.map.orders.fields.total.template: {0!r} is refused",
        ),
        (
            {"orders": source({"path": "S", "enum": {}})},
            "sources.orders.map.orders.fields.total.enum: must map at least one code",
        ),
        (
            {"orders": source({"path": "S", "template": "{x}"})},
            "sources.orders.map.orders.fields.total: give one of path, join, template",
        ),
        (
            {"orders": source({"scale": 0.01})},
            "sources.orders.map.orders.fields.total: give a path, join or template",
        ),
        (
            {"orders": source({"path": "A", "separator": "-"})},
            "sources.orders.map.orders.fields.total: separator goes with join",
        ),
        (
            {"orders": source({"path": "A", "colour": "red"})},
            "sources.orders.map.orders.fields.total.colour: Extra inputs are not permitted",
        ),
        (
            {"orders": source("AMOUNT", timezone="Asia/Shangai")},
            "sources.orders.timezone: unknown time zone 'Asia/Shangai'",
        ),
        (
            {"orders": source({"path": "T", "timezone": "Mars/Base"})},
            "sources.orders.map.orders.fields.total.timezone: unknown time zone 'Mars/Base'",
        ),
    ],
)
def test_bad_transforms_stop_the_start_with_one_line_naming_the_key(
    sources: dict[str, Any], line: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, sources=sources)
    text = str(caught.value)
    assert text.startswith("config error: " + line), text
    assert "\n" not in text


def test_field_specs_survive_a_dump_and_a_second_validation() -> None:
    """Flags make the loader validate a dump of the settings again (issue 12, item 1)."""
    spec = {
        "customer": {"name": {"template": "{l}{f}"}, "tier": {"default": "std"}},
        "orders": {
            "from": "orders",
            "fields": {
                "id": "no",
                "total": {"path": "fen", "scale": 0.01},
                "status": {"path": "s", "enum": {1: "paid"}, "default": "?"},
                "lines": {"from": "items", "fields": {"sku": "sku", "quantity": "qty"}},
            },
        },
    }
    first = SourceMap.model_validate(spec)
    again = SourceMap.model_validate(first.model_dump(by_alias=True))
    assert again == first
