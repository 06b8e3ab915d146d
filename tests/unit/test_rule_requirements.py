"""Required fields and tidy templates (kefu.events.rules), pure: what is missing, what a
POST is refused for, how a template renders a missing value, and bad ``require`` config
refused at start naming its key."""

from __future__ import annotations

import pytest

from kefu.events.rules import RuleSettings, compile_rules, missing, refusal, render

CONTEXT = {
    "data": {"summary": "late", "blank": " ", "zero": 0},
    "customer": {},
    "customer_key": None,
}


def rule(**extra: object) -> RuleSettings:
    return RuleSettings.model_validate(
        {
            "name": "r",
            "on": "customer.*",
            "do": [{"notify": {"role": "supervisor", "message": "x"}}],
            **extra,
        }
    )


def test_missing_means_absent_null_or_blank() -> None:
    assert missing(["data.summary", "data.zero"], CONTEXT) == []
    assert missing(["data.blank", "data.nope", "customer_key"], CONTEXT) == [
        "data.blank",
        "data.nope",
        "customer_key",
    ]


def test_only_refusing_rules_of_the_events_type_refuse() -> None:
    refusing = rule(require=["customer_key"])
    lenient = rule(name="d", require=["customer_key"], on_missing="dead_letter")
    other = rule(name="o", on="order.*", require=["data.order_id"])
    assert refusal([refusing], "customer.complaint", CONTEXT) == "rule 'r' requires customer_key"
    assert refusal([lenient, other], "customer.complaint", CONTEXT) is None
    assert refusal([refusing], "customer.complaint", {**CONTEXT, "customer_key": "C1"}) is None
    compiled = compile_rules([lenient], set())
    assert compiled[0].required == ("customer_key",) and compiled[0].on_missing == "dead_letter"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Complaint from {customer.name} ({customer_key}):", "Complaint from"),
        ("Complaint: {data.nope}", "Complaint"),
        (
            "Complaint from {customer.name|a customer} ({customer_key}): {data.summary}",
            "Complaint from a customer: late",
        ),
        ("{data.summary} [{data.nope}] - {customer_key}", "late"),
        ("Complaint: {data.summary}", "Complaint: late"),
        ("no fields (kept as written): ", "no fields (kept as written): "),
        ("投诉\uff08{customer_key}\uff09\uff1a{data.summary}", "投诉\uff1alate"),
    ],
)
def test_templates_leave_no_empty_labels(template: str, expected: str) -> None:
    assert render(template, CONTEXT) == expected


@pytest.mark.parametrize("bad", [["customer.name"], ["Data.x"], ["nothing"], ["data..x"]])
def test_bad_requirements_are_refused_at_start(bad: list[str]) -> None:
    with pytest.raises(ValueError, match="require"):
        rule(require=bad)
    with pytest.raises(ValueError):
        rule(require=["data.x"], on_missing="ignore")
