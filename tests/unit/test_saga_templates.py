"""Saga action templates: values are bound or escaped, never read as syntax."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from kefu.sagas.actions.base import ActionCall, ActionFailed
from kefu.sagas.actions.templates import (
    HeaderTemplates,
    JsonTemplate,
    PathTemplate,
    SqlParams,
    XmlTemplate,
    as_text,
    call_context,
    parse_text,
)

HOSTILE = [
    "' OR 1=1 --",
    "x'; DROP TABLE orders; --",
    '"quoted" \\ back',
    "</Text><Evil>1</Evil>",
    "<![CDATA[x]]>",
    "&amp; &lt; &#x41;",
    "{input.secret}",
    "{{",
    "../../admin",
    "a/b?c=d#e",
    "退款原因\uff1a商品损坏",
    "emoji 🙂 and \u00e9",
]


def call(inputs: dict[str, Any], **extra: Any) -> ActionCall:
    context = {
        "input": inputs,
        "customer_key": "C1001",
        "saga": {"id": "saga_ab12", "name": "refund"},
        "step": {"name": "refund_order", "phase": "action"},
        "steps": {"earlier": {"note_id": "N-1", "amount": Decimal("12.50")}},
        "secret": "must never leak",
    } | extra
    return ActionCall("saga_ab12", "refund", "refund_order", "compensation", 2, 5.0, context)


def test_the_context_adds_the_keys() -> None:
    context = call_context(call({}))
    assert context["idempotency_key"] == "saga_ab12:refund_order:undo"
    assert context["step"]["action_key"] == "saga_ab12:refund_order:do"
    assert context["step"]["attempt"] == 2
    assert context["saga"] == {"id": "saga_ab12", "name": "refund"}


@pytest.mark.parametrize("value", HOSTILE)
def test_json_bodies_carry_values_as_values(value: str) -> None:
    template = JsonTemplate(
        {
            "exact": "{input.v}",
            "text": "note: {input.v}!",
            "nested": [{"n": "{input.n}"}],
            "literal": "{{not a placeholder}}",
        }
    )
    rendered = template.render(call_context(call({"v": value, "n": 12.5})))
    decoded = json.loads(json.dumps(rendered))
    assert decoded == {
        "exact": value,
        "text": f"note: {value}!",
        "nested": [{"n": 12.5}],
        "literal": "{not a placeholder}",
    }


def test_exact_placeholders_keep_their_type() -> None:
    context = call_context(call({"amount": 120, "flag": True, "tags": ["a", "b"], "none": None}))
    rendered = JsonTemplate(
        {
            "amount": "{input.amount}",
            "flag": "{input.flag}",
            "tags": "{input.tags}",
            "missing": "{input.absent}",
            "earlier": "{steps.earlier.amount}",
            "key": "{idempotency_key}",
        }
    ).render(context)
    assert rendered == {
        "amount": 120,
        "flag": True,
        "tags": ["a", "b"],
        "missing": None,
        "earlier": 12.5,
        "key": "saga_ab12:refund_order:undo",
    }


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ({"a": "{secret}"}, "unknown name 'secret'"),
        ({"a": "{input}"}, "name a field"),
        ({"a": "{input.x"}, "stray"),
        ({"a": "x}"}, "stray"),
        ({"{input.k}": 1}, "never a template"),
        ({"a": "{input.a b}"}, "not a placeholder"),
        ({"a": float("nan")}, "NaN"),
    ],
)
def test_bad_json_templates_are_refused_at_start(template: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        JsonTemplate(template)


@pytest.mark.parametrize("value", HOSTILE)
def test_path_values_stay_in_their_segment(value: str) -> None:
    path = PathTemplate("/orders/{input.v}/refund").render(call_context(call({"v": value})))
    assert path.startswith("/orders/") and path.endswith("/refund")
    middle = path.removeprefix("/orders/").removesuffix("/refund")
    assert "/" not in middle and "?" not in middle and "#" not in middle
    assert middle not in (".", "..")


def test_dot_segments_and_empty_values_in_paths() -> None:
    template = PathTemplate("/orders/{input.v}")
    assert template.render(call_context(call({"v": ".."}))) == "/orders/%2E%2E"
    with pytest.raises(ActionFailed) as failed:
        template.render(call_context(call({"v": ""})))
    assert failed.value.retryable is False
    for bad in ("orders/{input.v}", "//evil/{input.v}", "/a?b={input.v}", "/a/../{input.v}"):
        with pytest.raises(ValueError):
            PathTemplate(bad)


ENVELOPE = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    '<AddNote xmlns="urn:kefu-demo:callcenter" ref="{customer_key}">'
    "<Text>Refund {input.order_id}: {input.reason}</Text>"
    "<IdempotencyKey>{idempotency_key}</IdempotencyKey></AddNote></soap:Body></soap:Envelope>"
)


@pytest.mark.parametrize("value", HOSTILE)
def test_xml_values_are_escaped_text(value: str) -> None:
    context = call_context(call({"order_id": "100231", "reason": value}, customer_key=value))
    document = etree.fromstring(XmlTemplate(ENVELOPE).render(context))
    ns = {"c": "urn:kefu-demo:callcenter"}
    note = document.find(".//c:AddNote", ns)
    assert note is not None
    assert note.get("ref") == value
    assert note.findtext("c:Text", namespaces=ns) == f"Refund 100231: {value}"
    assert [child.tag for child in note] == [
        "{urn:kefu-demo:callcenter}Text",
        "{urn:kefu-demo:callcenter}IdempotencyKey",
    ]


def test_xml_templates_keep_placeholders_in_data() -> None:
    for bad in (
        "<{input.tag}>x</{input.tag}>",
        "<a><!-- {input.x} --></a>",
        "<a><![CDATA[{input.x}]]></a>",
        "<a>{input.x}",
        '<!DOCTYPE a [<!ENTITY e "x">]><a>{input.x}</a>',
    ):
        with pytest.raises(ValueError):
            XmlTemplate(bad)
    with pytest.raises(ActionFailed):
        XmlTemplate("<a>{input.x}</a>").render(call_context(call({"x": "bell \x07"})))


def test_headers_refuse_line_breaks_in_values() -> None:
    headers = HeaderTemplates({"X-Reason": "{input.r}"}, headers=True)
    assert headers.render(call_context(call({"r": "退款"}))) == {"X-Reason": "退款"}
    with pytest.raises(ActionFailed):
        headers.render(call_context(call({"r": "a\r\nX-Admin: 1"})))
    with pytest.raises(ValueError):
        HeaderTemplates({"Bad Name": "x"}, headers=True)


def test_sql_params_bind_typed_values_and_the_key() -> None:
    params = SqlParams(
        ["UPDATE t SET note = :reason, amount = :amount WHERE id = :id AND k <> :idempotency_key"],
        {"reason": "input.reason", "amount": "input.amount", "id": "{input.id}"},
    )
    values = params.values(
        call_context(call({"reason": "x'; DROP TABLE t; --", "amount": 12.5, "id": 7}))
    )
    assert values == {
        "reason": "x'; DROP TABLE t; --",
        "amount": 12.5,
        "id": 7,
        "idempotency_key": "saga_ab12:refund_order:undo",
    }


@pytest.mark.parametrize(
    ("statement", "params", "problem"),
    [
        ("UPDATE t SET a = :a", {}, "map them in params"),
        ("UPDATE t SET a = 1", {"a": "input.a"}, "not used"),
        ("UPDATE t SET a = :a", {"a": "secret.x"}, "unknown name"),
        ("UPDATE t SET a = :idempotency_key", {"idempotency_key": "input.k"}, "always bound"),
    ],
)
def test_bad_sql_params(statement: str, params: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SqlParams([statement], params)


def test_text_of_values() -> None:
    assert as_text(None) == ""
    assert as_text(True) == "true"
    assert as_text(1e-7) == "0.0000001"
    assert as_text(Decimal("12.50")) == "12.50"
    assert as_text({"a": "退"}) == '{"a": "退"}'
    assert parse_text("a {{b}} {input.c}").render({"input": {"c": 1}}) == "a {b} 1"
