"""Process helpers: spawn a server pinned to its own core, read its memory and CPU, stop it.

Server and load generator run in separate processes on separate cores, so a figure
measures the server and not the client fighting it for the same CPU. Everything here is
synchronous and bounded in time: a server that does not come up or does not stop is
killed, never waited on forever.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Seconds a server gets to start listening; kefu migrates its schema at start, which on
# a cold PostgreSQL takes a few seconds, so this is generous rather than tight.
READY_TIMEOUT_S = 60.0
# Seconds between SIGTERM and SIGKILL: enough for a graceful drain of a few thousand sockets.
STOP_GRACE_S = 10.0
BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RUNS_DIR = BENCH_DIR / ".runs"


@dataclass(frozen=True)
class CpuPlan:
    """Which cores the servers get and which the load generator (and orchestrator) get."""

    server: frozenset[int]
    loadgen: frozenset[int]


def plan_cpus() -> CpuPlan:
    """First core for the server, the rest for the load generator; all on a one-core box.

    Call it once, before any process pins itself: it reads the caller's affinity, so in
    an already pinned process it would see only that process's own core.
    """
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return CpuPlan(frozenset(cores), frozenset(cores))
    return CpuPlan(frozenset(cores[:1]), frozenset(cores[1:]))


def raise_nofile() -> int:
    """Raise this process's open-file soft limit to the hard limit; return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a free TCP port (a fresh one per server, so TIME_WAIT never bites)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` in KiB, from /proc/PID/status VmRSS."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds used so far by ``pid``, all its threads included."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    # utime, stime are fields 14 and 15 of stat(5); we sliced off the first two.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_seconds_fine(pid: int) -> float:
    """CPU seconds ``pid``'s live threads have run, in nanoseconds' resolution (the first
    field of each /proc/PID/task/TID/schedstat). For a broker that takes a few ms a second,
    :func:`cpu_seconds`'s 10 ms ticks would be most of the figure; threads that exited
    between two readings are not counted, which long-running services barely have."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def pids_named(comm: str) -> list[int]:
    """Pids of every process whose /proc/PID/comm is ``comm`` (e.g. ``postgres``)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{entry}/comm").read_text().strip() == comm:
                    found.append(int(entry))
    return found


@dataclass(frozen=True)
class CoreTimes:
    """CPU seconds of a set of cores since boot, by kind (from /proc/stat).

    Compared with a process's own CPU time over a step, ``task_s`` shows how much of its
    core other processes used; ``irq_s`` is interrupt work (largely the loopback traffic
    of the bench itself) and ``steal_s`` time the hypervisor gave to other machines.
    """

    task_s: float
    irq_s: float
    steal_s: float

    def __sub__(self, other: CoreTimes) -> CoreTimes:
        return CoreTimes(
            self.task_s - other.task_s, self.irq_s - other.irq_s, self.steal_s - other.steal_s
        )


def core_times(cores: frozenset[int]) -> CoreTimes:
    task = irq = steal = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cores:
            continue
        # user nice system idle iowait irq softirq steal (guest time is inside user)
        t = [int(v) for v in rest.split()]
        task += t[0] + t[1] + t[2]
        irq += t[5] + t[6]
        steal += t[7]
    hz = os.sysconf("SC_CLK_TCK")
    return CoreTimes(task / hz, irq / hz, steal / hz)


def machine_info(cpus: CpuPlan) -> dict[str, object]:
    """What the numbers were measured on, written into results.json beside them."""
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "hostname": platform.node(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "mem_gb": round(mem_kb / 1024 / 1024, 1),
        "nofile_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        "server_cpus": sorted(cpus.server),
        "loadgen_cpus": sorted(cpus.loadgen),
        "loadavg": os.getloadavg(),
    }


def _pin_and_raise(cpus: frozenset[int]) -> None:
    """Run in the child before exec: its own core and as many file descriptors as allowed."""
    os.sched_setaffinity(0, cpus)
    raise_nofile()
    # Own process group, so stopping the server also stops anything it spawned.
    os.setsid()


@dataclass
class Server:
    """A server subprocess with its log file; stop() is idempotent."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_GRACE_S)


def start_server(
    name: str,
    argv: Sequence[str],
    *,
    cpus: frozenset[int],
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Server:
    """Start ``argv`` pinned to ``cpus`` (the server cores), output to ``log_dir/name.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            cwd=str(cwd or REPO_DIR),
            preexec_fn=lambda: _pin_and_raise(cpus),
        )
    return Server(name=name, proc=proc, log_path=log_path)


def wait_http_ready(server: Server, url: str, timeout: float = READY_TIMEOUT_S) -> None:
    """Poll ``url`` until it answers (any HTTP status), or raise with the server's log tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"{server.name} exited early:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered: listening is all we wait for
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f}s:\n{server.log_tail()}")


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    """Stop ``server`` however the block exits."""
    try:
        yield server
    finally:
        server.stop()


def python_argv(module: str, *args: str) -> list[str]:
    """argv running ``module`` with this interpreter (the venv's), from the repo root."""
    return [sys.executable, "-m", module, *args]


class JobError(RuntimeError):
    """A child benchmark job failed, overran its budget or answered nothing."""


def run_json_job(
    argv: Sequence[str],
    job: Mapping[str, object],
    cpus: frozenset[int],
    timeout_s: float,
    label: str,
    *,
    stderr: object = None,
    env: Mapping[str, str] | None = None,
    hint: str = "",
) -> dict[str, object]:
    """Run a child job pinned to ``cpus``: the job as JSON on stdin, its answer as the last
    stdout line ``{"ok", "result"|"error"}``; killed with its process group past
    ``timeout_s``. ``hint`` (e.g. where its log is) is added to every error."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,  # type: ignore[arg-type]
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
        start_new_session=True,
        cwd=REPO_DIR,
        env=None if env is None else {**os.environ, **env},
    )
    try:
        out, _ = proc.communicate(json.dumps(job).encode(), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise JobError(f"{label} overran its {timeout_s:.0f}s budget{hint}") from None
    lines = out.decode(errors="replace").strip().splitlines()
    if not lines:
        raise JobError(f"{label} exited {proc.returncode} with no result{hint}")
    answer = json.loads(lines[-1])
    if not answer.get("ok"):
        raise JobError(f"{label}: {answer.get('error')}{hint}")
    result: dict[str, object] = answer["result"]
    return result
