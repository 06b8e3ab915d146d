"""Every ```yaml block of README.md and docs/*.md starts a node.

A new user configures kefu by copying these blocks, so each is read exactly as
``kefu serve --config FILE`` reads a file (``load_settings``, YAML 1.2) and a node is
started on it and must be ready. Every block is a whole config file: a block that shows
only part of one (a source without ``sources:`` above it, a placeholder ``{…}``) fails
here, naming the page and line, until the docs write it whole.

The one liberty taken: examples name the servers of an imagined deployment
(``db.internal``, ``/var/lib/kefu``, port 8080). A node's environment overrides those,
as docs/configuration.md tells operators to do per node, so here ``KEFU_DATA_DIR``,
``KEFU_STORE``, ``KEFU_BUS`` and ``KEFU_CACHE`` point at this machine's services of the
same kind (a PostgreSQL store stays PostgreSQL, NATS stays NATS), and the ``--host`` and
``--port`` flags bind loopback on a free port. Department systems named in ``sources``
need not run: connectors connect on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kefu import yaml12
from kefu.config import Settings, load_settings
from tests.support.kefu import serving
from tests.support.postgres import postgres_database

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A fenced block, also inside a list item (indented fence); its body ends at the fence
# with the same indentation.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?:yaml|yml)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
OPENING = re.compile(r"^[ \t]*```(?:yaml|yml)[ \t]*$", re.M)
REDIS = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Example:
    page: Path
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def examples(page: Path) -> list[Example]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        indent = match.group("indent")
        body = "".join(
            line.removeprefix(indent) for line in match.group("body").splitlines(keepends=True)
        )
        found.append(Example(page, text.count("\n", 0, match.start()) + 1, body))
    return found


ALL = [example for page in PAGES for example in examples(page)]


def test_every_yaml_fence_is_an_example() -> None:
    """No block escapes the test through a fence the pattern above does not close."""
    for page in PAGES:
        opened = len(OPENING.findall(page.read_text(encoding="utf-8")))
        assert len(examples(page)) == opened, f"{page.relative_to(ROOT)}: unclosed ```yaml"
    assert ALL, "no ```yaml block found at all: is the pattern wrong?"


def whole_config(example: Example) -> dict[str, Any]:
    """The block as the mapping a config file holds, or a failure saying what to fix."""
    data = yaml12.load(example.text)
    if not isinstance(data, dict):
        pytest.fail(f"{example}: the block is not a mapping of settings keys")
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        pytest.fail(
            f"{example}: not a whole config file: top-level {unknown} are not settings keys. "
            "Write the block as the file a user would copy, e.g. with `sources:` above a source."
        )
    placeholder = re.search(r"\{…\}|: …\s*$", example.text, re.M)
    if placeholder:
        pytest.fail(f"{example}: placeholder {placeholder.group()!r}: give a real value")
    return data


@pytest.mark.parametrize("example", ALL, ids=str)
async def test_example_starts_a_node(
    example: Example,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    data = whole_config(example)
    config = tmp_path / "kefu.yaml"
    config.write_text(example.text, encoding="utf-8")
    for name in [name for name in os.environ if name.startswith("KEFU_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KEFU_DATA_DIR", str(tmp_path / "data"))

    async with contextlib.AsyncExitStack() as stack:
        if str(data.get("store", "")).startswith("postgres"):
            monkeypatch.setenv("KEFU_STORE", await stack.enter_async_context(postgres_database()))
        elif "store" in data:
            monkeypatch.setenv("KEFU_STORE", f"sqlite:///{tmp_path / 'kefu.db'}")
        if str(data.get("bus", "")).startswith("nats://"):
            monkeypatch.setenv("KEFU_BUS", request.getfixturevalue("nats").url)
        if str(data.get("cache", "")).startswith("redis"):
            monkeypatch.setenv("KEFU_CACHE", REDIS)
        settings = load_settings(config, host="127.0.0.1", port=0)
        assert set(data) <= settings.model_fields_set, f"{example}: keys lost on the way"

        kefu = await stack.enter_async_context(serving(settings))
        async with asyncio.timeout(60):  # ready is a state to wait for; this guards a hang
            while True:
                async with kefu.http.get(kefu.url("/readyz")) as resp:
                    if resp.status == 200:
                        break
                await asyncio.sleep(0.1)
