"""Running the ``kefu`` CLI as a user does: a subprocess with flags and an environment."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

KEFU = Path(sys.executable).parent / "kefu"
PASSWORD = "a-long-enough-password"
AGENT_ID = re.compile(r"agt_[0-9a-f]+")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment minus any KEFU_* setting or terminal width, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_") and k != "COLUMNS"}
    env.update(extra)
    return env


def run_kefu(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion; ``timeout`` only guards against a hang."""
    return subprocess.run(
        [str(KEFU), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


async def kefu_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI without blocking the event loop (a node may be serving on it)."""
    return await asyncio.to_thread(run_kefu, *args, env=env)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]


async def add_agent(env: dict[str, str], email: str, *extra: str) -> str:
    result = await kefu_cli(
        "agents", "add", "--email", email, "--password", PASSWORD, "--name", "Alice", *extra,
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = AGENT_ID.search(result.stdout)
    assert found, result.stdout
    return found.group()


@contextlib.asynccontextmanager
async def kefu_serve(env: dict[str, str]) -> AsyncIterator[tuple[str, list[str]]]:
    """``kefu serve`` on a free port until the block ends; yields its URL and, after the
    block, fills the list with its stderr lines."""
    process = await asyncio.create_subprocess_exec(
        str(KEFU), "serve", "--port", "0", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stderr: list[str] = []
    try:
        assert process.stdout is not None and process.stderr is not None
        async with asyncio.timeout(60):  # a hang guard, not a timing assertion
            line = (await process.stdout.readline()).decode()
        found = re.search(r"http://[\d.]+:\d+", line)
        assert found, line
        yield found.group(), stderr
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            err = await process.stderr.read()
            assert await process.wait() == 0, err.decode()
        stderr.extend(err.decode().splitlines())
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def kefu_demo(data_dir: Path, *flags: str) -> AsyncIterator[dict[str, str]]:
    """``kefu demo --port 0 *flags`` as ``make demo`` runs it, until the block ends; yields
    the kefu URL and shop URL it printed and its whole output. It must exit 0 on SIGTERM."""
    env = {**os.environ, "KEFU_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    process = await asyncio.create_subprocess_exec(
        str(KEFU), "demo", "--port", "0", *flags, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    output = ""
    try:
        async with asyncio.timeout(90):  # a hang guard, not a timing assertion
            while "Ctrl+C" not in output:
                line = await process.stdout.readline()
                assert line, f"demo exited early:\n{output}"
                output += line.decode()
        kefu = re.search(r"(http://127\.0\.0\.1:\d+)/docs", output)
        shop = re.search(r"Shop page: (http://127\.0\.0\.1:\d+)/", output)
        assert kefu is not None and shop is not None, output
        yield {"kefu": kefu.group(1), "shop": shop.group(1), "output": output}
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0
