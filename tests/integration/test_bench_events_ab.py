"""``python -m bench.events_ab`` (the events A/B of two kefu trees) as an operator runs it:
a subprocess with its flags. One small round on SQLite, the same tree as both arms, so
the job, the table and the JSON are checked without asserting any timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC = REPO_ROOT / "src"


def events_ab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.events_ab", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_round_runs_each_tree_and_writes_every_run(tmp_path: Path) -> None:
    out = tmp_path / "ab.json"
    done = events_ab(
        "--tree", f"a={SRC}", "--tree", f"b={SRC}", "--rounds", "1", "--events", "1000",
        "--no-postgres", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "sqlite      a" in done.stdout and "sqlite      b" in done.stdout
    runs = json.loads(out.read_text())["runs"]
    assert [(r["tree"], r["store"], r["tickets"]) for r in runs] == [
        ("a", "sqlite", 1000),
        ("b", "sqlite", 1000),
    ]
    assert all(r["cpu_us_per_event"] > 0 for r in runs)


def test_a_tree_without_kefu_is_refused(tmp_path: Path) -> None:
    done = events_ab("--tree", f"old={tmp_path}", "--no-postgres")
    assert done.returncode == 2
    assert "want NAME=PATH with PATH/kefu/__init__.py" in done.stderr
    assert not list(tmp_path.iterdir())  # nothing written
