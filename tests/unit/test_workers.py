"""``kefu serve --workers``: the pure parts (restart budget, settings) without processes.
The processes themselves are tested in tests/integration/test_workers.py."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from kefu.config import load_settings, restore_settings
from kefu.errors import ConfigError
from kefu.workers import RestartBudget, describe_exit

CLUSTER = {"store": "postgresql://kefu@db.internal/kefu", "bus": "nats://127.0.0.1:4222"}


def test_restart_delay_doubles_up_to_its_cap_then_the_loop_is_given_up() -> None:
    budget = RestartBudget(limit=5, window=60, first_delay=0.5, max_delay=4)

    delays = [budget.after_crash(1, now=float(second)) for second in range(6)]

    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, None]


def test_crashes_older_than_the_window_no_longer_count() -> None:
    budget = RestartBudget(limit=2, window=60, first_delay=1, max_delay=8)
    budget.after_crash(1, now=0)
    budget.after_crash(1, now=20)

    assert budget.after_crash(1, now=70) == 2.0  # the crash at 0 has left the window
    assert budget.after_crash(1, now=71) is None  # three within 60 s


def test_each_worker_has_a_budget_of_its_own() -> None:
    budget = RestartBudget(limit=1)

    assert budget.after_crash(1, now=0) is not None
    assert budget.after_crash(2, now=0) is not None
    assert budget.after_crash(1, now=1) is None


def test_exit_statuses_read_as_an_operator_would_say_them() -> None:
    assert describe_exit(-signal.SIGKILL) == "was killed by SIGKILL"
    assert describe_exit(3) == "exited with code 3"


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        pytest.param({"workers": 2}, "workers", ("postgresql", "SQLite"), id="sqlite"),
        pytest.param(
            {"workers": 2, "store": CLUSTER["store"]},
            "workers",
            ("nats", "memory"),
            id="memory-bus",
        ),
        pytest.param({"workers": 2, **CLUSTER, "port": 0}, "port", ("0",), id="random-port"),
        pytest.param(
            {"workers": 2, **CLUSTER, "grpc_port": 0}, "grpc_port", ("0",), id="random-grpc-port"
        ),
        pytest.param({"workers": 0}, "workers", (), id="zero"),
        pytest.param({"workers": 65, **CLUSTER}, "workers", (), id="too-many"),
    ],
)
def test_workers_that_cannot_work_are_refused_naming_the_key(
    tmp_path: Path, overrides: dict[str, Any], key: str, words: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(None, data_dir=tmp_path, **overrides)

    assert refused.value.key == key
    for word in words:
        assert word in refused.value.message


def test_workers_come_from_the_environment_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEFU_WORKERS", "4")
    monkeypatch.setenv("KEFU_STORE", CLUSTER["store"])
    monkeypatch.setenv("KEFU_BUS", CLUSTER["bus"])

    assert load_settings(None, data_dir=tmp_path).workers == 4


def test_one_worker_is_the_default_and_needs_nothing(tmp_path: Path) -> None:
    assert load_settings(None, data_dir=tmp_path, port=0).workers == 1


def test_a_worker_runs_the_settings_its_parent_validated_whatever_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = load_settings(
        None,
        data_dir=tmp_path,
        workers=2,
        port=9000,
        auth={"secret_key": "s" * 40},
        chat={"auto_replies": [{"keywords": ["refund"], "reply": "3-5 days"}]},
        **CLUSTER,
    )
    monkeypatch.setenv("KEFU_PORT", "9999")
    monkeypatch.setenv("KEFU_WORKERS", "3")

    assert restore_settings(parent.model_dump(mode="json")) == parent
