"""A row built from the values we just inserted, so creating a record needs no read-back."""

from __future__ import annotations

from typing import Any


class ValuesRow:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
