"""Running kefu the way an operator does: the ``kefu`` CLI, configured by environment.

Agents are created with ``kefu agents add`` before ``kefu serve`` starts (the contract says
it works before the server ever ran), each node gets a fresh data directory, and the
gRPC port is set explicitly so two nodes never collide on HTTP port + 1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.procs import Server, free_port, start_server, wait_http_ready
from bench.scenarios.common import Context

# Settings names, from kefu.config (env prefix KEFU_, nested keys joined by "__").
DATA_DIR_ENV = "KEFU_DATA_DIR"
STORE_ENV = "KEFU_STORE"
CAPACITY_ENV = "KEFU_CHAT__AGENT_CAPACITY"
GRPC_PORT_ENV = "KEFU_GRPC_PORT"
# Abuse limits lifted for the bench (``--kefu-env`` overrides them): the load generator is
# a handful of loopback addresses creating thousands of visitors per minute, and the relay
# steps ask up to ~50 frames/s of one visitor socket. In production these limits stand
# between kefu and a flood; here they would only measure the limiter.
BENCH_SETTINGS = {
    "KEFU_AUTH__VISITORS_PER_IP_PER_MINUTE": "1000000",
    "KEFU_AUTH__LOGIN_PER_IP_PER_MINUTE": "10000",
    "KEFU_WEBSOCKET__FRAMES_PER_SECOND": "10000",
    "KEFU_WEBSOCKET__FRAME_BURST": "10000",
    # The load generator's thousands of visitors all connect from one address.
    "KEFU_WEBSOCKET__MAX_VISITOR_SOCKETS_PER_IP": "10000000",
}
# A password any sane policy accepts; agents exist only in the bench's own data.
AGENT_PASSWORD = "bench-Agent-passw0rd-42"
CLI_TIMEOUT_S = 120.0


def kefu_argv(*args: str) -> list[str]:
    """The venv's ``kefu`` console script, else ``python -m kefu``."""
    script = Path(sys.executable).parent / "kefu"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "kefu", *args]


def unavailable_reason() -> str | None:
    """Why kefu cannot be benchmarked here, or None when ``kefu serve --help`` works."""
    try:
        done = subprocess.run(
            kefu_argv("serve", "--help"), capture_output=True, timeout=CLI_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"kefu CLI not runnable: {exc}"
    if done.returncode != 0:
        return f"`kefu serve --help` exited {done.returncode}: {done.stderr.decode()[-500:]}"
    return None


def node_env(
    ctx: Context, label: str, store_url: str | None = None, capacity: int | None = None
) -> dict[str, str]:
    """Environment for one kefu node with a fresh data directory under the run dir."""
    data_dir = ctx.run_dir / f"kefu-{label}-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    env = {**BENCH_SETTINGS, DATA_DIR_ENV: str(data_dir), **ctx.kefu_env}
    if store_url is not None:
        env[STORE_ENV] = store_url
    if capacity is not None:
        env[CAPACITY_ENV] = str(capacity)
    return env


def add_agents(
    env: dict[str, str], count: int, capacity: int, run_dir: Path
) -> list[tuple[str, str]]:
    """Create ``count`` agents through the CLI, each able to hold ``capacity``
    conversations at once; return their (email, password)."""
    agents = []
    for j in range(count):
        email = f"bench-agent-{j}@example.com"
        argv = kefu_argv(
            "agents", "add", "--email", email, "--password", AGENT_PASSWORD,
            "--name", f"Bench Agent {j}", "--role", "agent", "--capacity", str(capacity),
        )  # fmt: skip
        done = subprocess.run(
            argv,
            env={**os.environ, **env},
            capture_output=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
            cwd=run_dir,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"`kefu agents add` exited {done.returncode}: "
                f"{(done.stderr or done.stdout).decode(errors='replace')[-800:]}"
            )
        agents.append((email, AGENT_PASSWORD))
    return agents


def start_kefu(ctx: Context, label: str, env: dict[str, str]) -> tuple[Server, str]:
    """Start ``kefu serve`` on the server core; return it and its base URL once ready."""
    port = free_port()
    env = {GRPC_PORT_ENV: str(free_port()), **env}  # a port the caller chose stays
    argv = kefu_argv("serve", "--host", "127.0.0.1", "--port", str(port))
    server = start_server(
        f"kefu-{label}", argv, cpus=ctx.cpus.server, log_dir=ctx.run_dir, env=env, cwd=ctx.run_dir
    )
    base = f"http://127.0.0.1:{port}"
    wait_http_ready(server, f"{base}/healthz")
    return server, base
