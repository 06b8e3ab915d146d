"""The results table (rich, or plain text for logs and pipes) and ``results.json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.scenarios.common import Row

COLUMNS = ("scenario", "subject", "metric", "value", "target", "met", "baseline", "ratio", "note")


def link_baselines(rows: Sequence[Row]) -> None:
    """Fill each row's baseline value and ratio from the row its baseline key names."""
    index = {(r.scenario, r.subject, r.metric): r for r in rows}
    for row in rows:
        if row.baseline is None:
            continue
        base = index.get(row.baseline)
        if base is None or row.baseline == (row.scenario, row.subject, row.metric):
            if base is None:
                row.note = _join(row.note, f"baseline {row.baseline[1]} not run")
            continue
        row.baseline_subject = base.subject
        if isinstance(base.value, int | float):
            row.baseline_value = base.value
            if isinstance(row.value, int | float) and base.value:
                row.ratio = round(row.value / base.value, 2)


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _cells(row: Row) -> list[str]:
    baseline = "-"
    if row.baseline_subject is not None:
        baseline = f"{_fmt(row.baseline_value)} ({row.baseline_subject})"
    ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
    return [
        row.scenario,
        row.subject,
        row.metric,
        f"{_fmt(row.value)} {row.unit}",
        row.target or "-",
        "-" if row.met is None else ("yes" if row.met else "NO"),
        baseline,
        ratio,
        row.note,
    ]


def print_table(rows: Sequence[Row], *, plain: bool = False) -> None:
    if plain:
        cells = [list(COLUMNS), *(_cells(r) for r in rows)]
        widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS) - 1)]
        for line in cells:
            padded = (c.ljust(w) for c, w in zip(line, widths, strict=False))
            print("  ".join(padded) + "  " + line[-1])
        return
    table = Table(title="kefu bench", show_lines=False)
    for col in COLUMNS:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*_cells(row))
    Console(width=220).print(table)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
