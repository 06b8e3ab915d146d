"""The ``sagas:`` section: one-line errors naming the key for a bad definition (shape at
load, actions when the node builds them), and the declared-input check the API answers
422 from (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from kefu.config import load_settings
from kefu.errors import ConfigError
from kefu.sagas.actions.base import SagaAction
from kefu.sagas.definitions import build_definitions, definition_json
from kefu.sagas.inputs import input_errors
from kefu.sagas.settings import InputField

STEP = {"name": "a", "action": {"kind": "kefu", "op": "emit", "type": "a.b"}}


def refused(sagas: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, sagas=sagas)
    return str(caught.value)


@pytest.mark.parametrize(
    ("sagas", "message"),
    [
        ({"Refund": {"steps": [STEP]}}, "config error: sagas.Refund: a saga name is lowercase"),
        (
            {"refund": {"steps": []}},
            "config error: sagas.refund.steps: List should have at least 1",
        ),
        (
            {"refund": {"steps": [STEP, {"name": "b", "action": {"kind": "ftp"}}]}},
            "config error: sagas.refund.steps[1].action: kind must be one of rest, soap, sql, kefu",
        ),
        (
            {"refund": {"steps": [STEP, STEP]}},
            "config error: sagas.refund.steps[1].name: 'a' appears twice",
        ),
        (
            {"refund": {"steps": [{**STEP, "pivot": True}, {**STEP, "name": "b", "pivot": True}]}},
            "config error: sagas.refund.steps[1].pivot: a saga has at most one pivot step",
        ),
        (
            {"refund": {"steps": [{**STEP, "retry": {"attempts": 0}}]}},
            "config error: sagas.refund.steps[0].retry.attempts: Input should be greater",
        ),
        (
            {"refund": {"steps": [{**STEP, "name": "Bad Name"}]}},
            "config error: sagas.refund.steps[0].name: 'Bad Name' must be lowercase",
        ),
        (
            {"refund": {"input": {"x": {"type": "text"}}, "steps": [STEP]}},
            "config error: sagas.refund.input.x.type: Input should be 'string'",
        ),
        (
            {"refund": {"input": {"x": {"pattern": "("}}, "steps": [STEP]}},
            "config error: sagas.refund.input.x.pattern: not a regular expression",
        ),
        (
            {"refund": {"steps": [{**STEP, "retyr": {}}]}},
            "config error: sagas.refund.steps[0].retyr: Extra inputs are not permitted",
        ),
    ],
)
def test_a_bad_definition_is_one_line_naming_the_key(sagas: Any, message: str) -> None:
    text = refused(sagas)
    assert text.startswith(message), text
    assert "\n" not in text


def test_a_rule_may_only_start_a_configured_saga() -> None:
    rule = {"name": "r", "on": "customer.complaint", "do": [{"start_saga": "refnud"}]}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, sagas={"refund": {"steps": [STEP]}}, rules=[rule])
    assert str(caught.value) == (
        "config error: rules.0.do.0.start_saga: 'refnud' is not a saga (refund)"
    )


def test_an_action_the_builder_refuses_names_its_key() -> None:
    settings = load_settings(None, sagas={"refund": {"steps": [STEP, {**STEP, "name": "b"}]}})

    def build(spec: dict[str, Any], where: str) -> SagaAction:
        if where.endswith("[1].action"):
            raise ValueError("path: must start with a single '/'")
        return object()  # type: ignore[return-value]

    with pytest.raises(ConfigError) as caught:
        build_definitions(settings.sagas, build)
    assert str(caught.value) == (
        "config error: sagas.refund.steps[1].action.path: must start with a single '/'"
    )


def test_definitions_say_what_each_step_can_undo() -> None:
    undo = {**STEP, "name": "b", "compensation": STEP["action"], "pivot": True}
    settings = load_settings(
        None,
        sagas={
            "refund": {
                "title": "Refund",
                "input": {"order_id": {"required": True, "max_length": 8}},
                "steps": [STEP, undo],
            }
        },
    )
    built = build_definitions(settings.sagas, lambda spec, where: object())  # type: ignore[arg-type,return-value]
    assert definition_json(built["refund"]) == {
        "name": "refund",
        "title": "Refund",
        "input": {"order_id": {"type": "string", "required": True, "max_length": 8}},
        "steps": [
            {"name": "a", "title": "a", "compensable": False, "pivot": False},
            {"name": "b", "title": "b", "compensable": True, "pivot": True},
        ],
    }


UNKNOWN = (
    "is not an input of this saga (known: amount, count, kind, lines, meta, note, order_id, urgent)"
)
FIELDS = {
    "order_id": InputField(type="string", required=True, max_length=5, pattern=r"A\d+"),
    "amount": InputField(type="number", required=True, minimum=0.01, maximum=1000),
    "count": InputField(type="integer"),
    "urgent": InputField(type="boolean"),
    "kind": InputField(enum=["refund", "credit"]),
    "lines": InputField(type="array"),
    "meta": InputField(type="object"),
    "note": InputField(min_length=2),
}


@pytest.mark.parametrize(
    ("given", "errors"),
    [
        ({"order_id": "A1", "amount": 1}, []),
        (
            {
                "order_id": "A1",
                "amount": 2.5,
                "count": 3,
                "urgent": False,
                "kind": "credit",
                "lines": [1],
                "meta": {"a": 1},
                "note": "ok",
            },
            [],
        ),
        ({"order_id": "A1", "amount": 1, "count": None}, []),  # null is absent
        ({}, [("input.order_id", "is required"), ("input.amount", "is required")]),
        (
            {"order_id": "A123456", "amount": 1},
            [("input.order_id", "must be at most 5 characters")],
        ),
        ({"order_id": "B1", "amount": 1}, [("input.order_id", "must match A\\d+")]),
        ({"order_id": 7, "amount": 1}, [("input.order_id", "must be a string")]),
        ({"order_id": "A1", "amount": True}, [("input.amount", "must be a number")]),
        ({"order_id": "A1", "amount": "1"}, [("input.amount", "must be a number")]),
        ({"order_id": "A1", "amount": float("nan")}, [("input.amount", "must be a number")]),
        ({"order_id": "A1", "amount": 0}, [("input.amount", "must be at least 0.01")]),
        ({"order_id": "A1", "amount": 1001}, [("input.amount", "must be at most 1000")]),
        ({"order_id": "A1", "amount": 1, "count": 1.5}, [("input.count", "must be an integer")]),
        ({"order_id": "A1", "amount": 1, "urgent": 1}, [("input.urgent", "must be a boolean")]),
        (
            {"order_id": "A1", "amount": 1, "kind": "cash"},
            [("input.kind", "must be one of ['refund', 'credit']")],
        ),
        ({"order_id": "A1", "amount": 1, "lines": {}}, [("input.lines", "must be an array")]),
        ({"order_id": "A1", "amount": 1, "meta": []}, [("input.meta", "must be an object")]),
        (
            {"order_id": "A1", "amount": 1, "note": "x"},
            [("input.note", "must be at least 2 characters")],
        ),
        (
            {"order_id": "A\x00", "amount": 1},
            [("input.order_id", "must not contain the NUL character (U+0000)")],
        ),
        ({"order_id": "A1", "amount": 1, "amout": 2}, [("input.amout", UNKNOWN)]),
        ([1, 2], [("input", "must be an object")]),
    ],
)
def test_declared_input(given: Any, errors: list[tuple[str, str]]) -> None:
    assert input_errors(FIELDS, given) == errors
