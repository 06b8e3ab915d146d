"""Reading the config file: YAML 1.2 scalars, and flags layered over file and environment."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from kefu import yaml12
from kefu.config import load_settings, restore_settings, snapshot_settings

MONGO_SOURCE = """\
sources:
  crm:
    connector: mongodb
    connection: {url: "mongodb://127.0.0.1:27117", database: crm}
    request: {collection: customers, filter: {customer_id: "{value}"}}
    map: {customer: {name: name}}
"""


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # YAML 1.1 made these booleans; in 1.2 they are the words they look like.
        *((word, word) for word in ("on", "off", "yes", "no", "y", "n", "On", "YES")),
        *((word, True) for word in ("true", "True", "TRUE")),
        *((word, False) for word in ("false", "False", "FALSE")),
        ("tRue", "tRue"),
        ("08:00", "08:00"),  # 1.1: 480, a base-60 integer
        ("010", 10),  # 1.1: 8, octal
        ("0o10", 8),
        ("0x1F", 31),
        ("1_000", "1_000"),  # 1.1: 1000
        ("-4", -4),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("-.inf", -math.inf),
        ("2026-12-25", "2026-12-25"),  # 1.1: a date; pydantic parses it where one is wanted
        ("null", None),
        ("~", None),
        ("", None),
        ("'true'", "true"),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(text: str, value: object) -> None:
    assert yaml12.load(f"key: {text}\n") == {"key": value}


def test_on_is_a_key_and_merge_keys_still_work() -> None:
    loaded = yaml12.load("base: &b {x: 1}\nrule: {<<: *b, on: customer.upgrade, off: 2}\n")

    assert loaded["rule"] == {"x": 1, "on": "customer.upgrade", "off": 2}


def test_explicit_bool_tag_on_a_non_boolean_is_an_error() -> None:
    with pytest.raises(yaml.YAMLError):
        yaml12.load("key: !!bool yes\n")


def test_rule_written_with_on_as_in_the_docs_loads(tmp_path: Path) -> None:
    config = tmp_path / "kefu.yaml"
    config.write_text(
        "rules:\n  - name: vip\n    on: customer.upgrade\n"
        "    do:\n      - notify: {role: supervisor, message: hi}\n"
    )

    settings = load_settings(config)

    assert settings.rules[0].on == ["customer.upgrade"]


def test_flags_layer_over_environment_and_file_without_writing_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "kefu.yaml"
    config.write_text(f"port: 9000\nchat:\n  welcome_message: hello\n{MONGO_SOURCE}")
    monkeypatch.setenv("KEFU_PORT", "9100")
    monkeypatch.setenv("KEFU_CHAT__AGENT_CAPACITY", "8")

    settings = load_settings(config, port=9200, host="127.0.0.2")

    assert (settings.host, settings.port) == ("127.0.0.2", 9200)
    assert settings.chat.welcome_message == "hello"  # the file's, beside the env's key
    assert settings.chat.agent_capacity == 8
    assert settings.sources["crm"].connector == "mongodb"
    assert "max_rows" not in settings.sources["crm"].model_fields_set


def test_a_snapshot_restores_the_same_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "kefu.yaml"
    config.write_text(MONGO_SOURCE)
    monkeypatch.setenv("KEFU_CHAT__AGENT_CAPACITY", "8")
    settings = load_settings(config, port=9200)
    monkeypatch.setenv("KEFU_PORT", "1")  # a restored worker reads no environment

    restored = restore_settings(snapshot_settings(settings))

    assert restored == settings
