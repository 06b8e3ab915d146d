"""A saga's declared input, checked before anything is recorded or run.

Pure: ``input_errors`` returns every problem as ``(field, message)`` so the API answers
422 naming the first, the same shape as any other validation error, and a rule starting a
saga with bad input logs what was wrong. Fields nobody declared are refused too: a typo
in a field name would otherwise run the saga without the value meant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kefu.errors import KefuError
from kefu.sagas.settings import InputField


class InvalidInput(KefuError):
    """The input breaks the saga's declared input: 422, like any validation error."""

    code = "validation_error"
    status = 422


def input_errors(declared: Mapping[str, InputField], given: Any) -> list[tuple[str, str]]:
    if not isinstance(given, Mapping):
        return [("input", "must be an object")]
    errors: list[tuple[str, str]] = []
    for name in given:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            errors.append((f"input.{name}", f"is not an input of this saga (known: {known})"))
    for name, spec in declared.items():
        value = given.get(name)
        if value is None:
            if spec.required:
                errors.append((f"input.{name}", "is required"))
            continue
        problem = _problem(spec, value)
        if problem is not None:
            errors.append((f"input.{name}", problem))
    return errors


def _problem(spec: InputField, value: Any) -> str | None:
    wrong = _type_problem(spec.type, value)
    if wrong is not None:
        return wrong
    if spec.enum is not None and value not in spec.enum:
        return f"must be one of {spec.enum}"
    if isinstance(value, str):
        if spec.min_length is not None and len(value) < spec.min_length:
            return f"must be at least {spec.min_length} characters"
        if spec.max_length is not None and len(value) > spec.max_length:
            return f"must be at most {spec.max_length} characters"
        if "\x00" in value:
            return "must not contain the NUL character (U+0000)"
        if spec.pattern is not None and re.fullmatch(spec.pattern, value) is None:
            return f"must match {spec.pattern}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            return f"must be at least {spec.minimum:g}"
        if spec.maximum is not None and value > spec.maximum:
            return f"must be at most {spec.maximum:g}"
    return None


def _type_problem(kind: str, value: Any) -> str | None:
    ok = {
        "string": isinstance(value, str),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "object": isinstance(value, Mapping),
        "array": isinstance(value, list),
    }[kind]
    if ok and kind == "number" and value != value:  # NaN
        return "must be a number"
    return None if ok else f"must be {'an' if kind[0] in 'aeio' else 'a'} {kind}"
