"""``grpc_attachments``: a 200 MiB file up and down through ``kefu.v1.AttachmentService``,
side by side with a plain loopback copy of the same file (issue 15, item 19) and with a
bare grpcio servicer of the same service (``bench.grpc_floor``).

kefu runs as operators run it (``kefu serve`` on the server core, configured by
environment, with an API token made through REST); the client runs on the load
generator's core. Measured for each direction:

- throughput, MB/s, of the gRPC transfer and of the baseline: the same bytes over one
  loopback TCP connection to a plain Python copier on the server core (the sender uses
  ``sendfile``; the receiver writes 1 MiB reads to a file in the same data directory and
  fsyncs it, as kefu fsyncs an upload before recording it, with kefu's periodic
  fdatasync in a thread meanwhile). Target: gRPC >= 80% of it.
  The copier also takes the upload once more hashing it (sha256, which kefu must do for
  the content address): not the target's baseline, it shows what the hash costs.
- the same for a bare grpcio servicer on the server core (``bench.grpc_floor``: kefu's
  grpcio, options and message encoding, sha256 + write + fsync up, 1 MiB reads down, no
  kefu): how much of the distance to the copy is gRPC-in-Python's own, and kefu's.
- the server's RSS growth while the file streams: /proc/PID/status VmRSS sampled every
  10 ms, its peak minus its level before the transfer (after a warm-up transfer of the
  same file each way, so the first call's one-time allocations are not counted). Target:
  a few MB (<= 5 MiB).

The file is a WAV header and random bytes (incompressible), 256 KiB per gRPC message up
(docs/grpc.md's advice), the server's 1 MiB per message down. The client sends and reads
the chunk messages as bytes (``kefu.api.grpc.wire``'s encoding, one copy per message) so
its own protobuf copies do not slow the transfer it measures; rounds run copy, bare gRPC
and kefu in turn, so a neighbour's burst on this shared host falls on all of them alike.
``python -m bench.grpc_attachments`` runs it alone.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from bench.kefu_proc import GRPC_PORT_ENV, kefu_argv, node_env, start_kefu
from bench.procs import Server, free_port, python_argv, rss_kb, running, start_server
from bench.scenarios.common import Context, Outcome, Row, at_least, at_most
from kefu.api.grpc.attachments import SERVICE
from kefu.api.grpc.wire import chunk_message, chunk_view
from kefu.attachments.storage import SYNC_EVERY_BYTES
from kefu.v1 import attachments_pb2 as pb

SCENARIO = "grpc_attachments"
FILE_BYTES = 200 * 1024 * 1024
CHUNK = 1024 * 1024  # the copier's reads and the files' writes
UPLOAD_CHUNK = 256 * 1024  # bytes per gRPC message up, as docs/grpc.md advises
TARGET_RATIO = 0.8
TARGET_RSS_MIB = 5.0
SAMPLE_EVERY_S = 0.01
# Rounds of each transfer; the table gives the median throughput and the largest RSS
# growth of any round.
ROUNDS = 5
ADMIN = "bench-admin@example.com"
PASSWORD = "bench-Admin-passw0rd-42"
# Lifted for the bench only: one file of 200 MiB (plus warm-ups) must pass.
LIMITS = {
    "KEFU_ATTACHMENTS__MAX_BYTES": str(256 * 1024 * 1024),
    "KEFU_ATTACHMENTS__ALLOWED_TYPES": '["audio/wav"]',
    "KEFU_ATTACHMENTS__VISITOR_BYTES_PER_HOUR": str(1024**3),
    "KEFU_ATTACHMENTS__IP_BYTES_PER_HOUR": str(1024**3),
}
# The copier's request: b"U" + size (receive), b"H" + size (receive and hash), b"D" + 0.
HEADER = struct.Struct("!cQ")


# -- the baseline: a plain loopback copier ---------------------------------------------------


def copier(port: int, directory: Path, source: Path) -> None:
    """Serve copies forever: ``U`` receives SIZE bytes into a file and fsyncs it, then
    answers b"ok" (``H`` the same, hashing what it writes); ``D`` sends ``source`` with
    sendfile."""
    with socket.create_server(("127.0.0.1", port)) as listener:
        print("ready", flush=True)
        while True:
            conn, _ = listener.accept()
            with conn:
                try:
                    op, size = HEADER.unpack(_recv_exactly(conn, HEADER.size))
                except ConnectionError:
                    continue  # a readiness probe
                if op in (b"U", b"H"):
                    _receive(conn, directory / "copy-upload", size, op == b"H")
                    conn.sendall(b"ok")
                else:
                    with source.open("rb") as infile:
                        conn.sendfile(infile)


def _receive(conn: socket.socket, target: Path, size: int, hashing: bool) -> None:
    """``size`` bytes from ``conn`` into ``target``, on disk when this returns. Like
    kefu's BlobStore.receive, a thread asks the disk to store what is written every
    SYNC_EVERY_BYTES, so the final fsync waits for the last MiBs only: without it, kefu's
    upload beat the copy whenever the disk, not the CPU, was the limit (0.91-1.05x at
    13:26 UTC on 2026-12-07), because the copy flushed 200 MiB only at its end."""
    digest = hashlib.sha256() if hashing else None
    syncing: threading.Thread | None = None
    unsynced = 0
    with target.open("wb") as out:
        left = size
        while left:
            data = conn.recv(min(CHUNK, left))
            if not data:
                break
            if digest is not None:
                digest.update(data)
            out.write(data)
            left -= len(data)
            unsynced += len(data)
            if unsynced >= SYNC_EVERY_BYTES and (syncing is None or not syncing.is_alive()):
                syncing = threading.Thread(target=os.fdatasync, args=(out.fileno(),))
                syncing.start()
                unsynced = 0
        if syncing is not None:
            syncing.join()
        out.flush()
        os.fsync(out.fileno())
    target.unlink()


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = conn.recv(size - len(data))
        if not more:
            raise ConnectionError("the peer closed early")
        data += more
    return data


def copy_up(port: int, source: Path, op: bytes = b"U") -> float:
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as conn, source.open("rb") as infile:
        conn.sendall(HEADER.pack(op, source.stat().st_size))
        conn.sendfile(infile)
        if _recv_exactly(conn, 2) != b"ok":
            raise RuntimeError("the copier did not confirm")
    return time.perf_counter() - started


def copy_down(port: int, size: int, target: Path) -> float:
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as conn, target.open("wb") as out:
        conn.sendall(HEADER.pack(b"D", 0))
        left = size
        while left:
            data = conn.recv(min(CHUNK, left))
            if not data:
                raise ConnectionError("the copier closed early")
            out.write(data)
            left -= len(data)
    return time.perf_counter() - started


# -- gRPC: kefu, and the bare servicer ------------------------------------------------------

UPLOAD = f"/{SERVICE}/Upload"
DOWNLOAD = f"/{SERVICE}/Download"


def grpc_up(channel: grpc.Channel, token: str, ticket_id: str, source: Path) -> tuple[float, Any]:
    """Push ``source``: the metadata, then each chunk as the bytes of an ``UploadRequest``
    (what protobuf would send; built without its two copies)."""

    def messages() -> Iterator[bytes]:
        meta = pb.UploadMetadata(
            ticket_id=ticket_id, filename=source.name, size=source.stat().st_size
        )
        yield pb.UploadRequest(metadata=meta).SerializeToString()
        with source.open("rb") as infile:
            while chunk := infile.read(UPLOAD_CHUNK):
                yield chunk_message(chunk)

    upload = channel.stream_unary(UPLOAD, response_deserializer=pb.AttachmentInfo.FromString)
    started = time.perf_counter()
    info = upload(messages(), metadata=(("authorization", f"Bearer {token}"),))
    return time.perf_counter() - started, info


def grpc_down(channel: grpc.Channel, token: str, attachment_id: str, target: Path) -> float:
    """Read the file back; each ``DownloadResponse`` arrives as bytes and its chunk is
    written from a view into them."""
    download = channel.unary_stream(
        DOWNLOAD, request_serializer=pb.DownloadRequest.SerializeToString
    )
    started = time.perf_counter()
    with target.open("wb") as out:
        for raw in download(
            pb.DownloadRequest(id=attachment_id),
            metadata=(("authorization", f"Bearer {token}"),),
        ):
            chunk = chunk_view(raw)
            if chunk is not None:
                out.write(chunk)
    return time.perf_counter() - started


class RssSampler:
    """VmRSS of ``pid`` every 10 ms in a thread, while the block runs."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._stop = threading.Event()
        self.samples: list[int] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(rss_kb(self._pid))
            time.sleep(SAMPLE_EVERY_S)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(rss_kb(self._pid))


def settled_rss(pid: int) -> int:
    """The server's RSS at rest: the median of a few samples."""
    samples = []
    for _ in range(10):
        samples.append(rss_kb(pid))
        time.sleep(SAMPLE_EVERY_S)
    return int(statistics.median(samples))


def _post(url: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=60) as resp:
        return json.loads(resp.read())


def make_file(path: Path, size: int) -> None:
    """A WAV header and random bytes, written once per run."""
    if path.exists() and path.stat().st_size == size:
        return
    with path.open("wb") as out:
        out.write(b"RIFF\x00\x00\x00\x00WAVEfmt ")
        left = size - 16
        while left:
            out.write(os.urandom(min(CHUNK, left)))
            left -= min(CHUNK, left)


def measure(ctx: Context) -> dict[str, Any]:
    work = ctx.run_dir / SCENARIO
    work.mkdir(parents=True, exist_ok=True)
    source = work / "recording.wav"
    make_file(source, FILE_BYTES)
    sha = _sha256(source)
    result: dict[str, Any] = {"file_bytes": FILE_BYTES, "upload_chunk_bytes": UPLOAD_CHUNK}

    env = {**node_env(ctx, SCENARIO), **LIMITS, GRPC_PORT_ENV: str(free_port())}
    done = subprocess.run(
        kefu_argv("agents", "add", "--email", ADMIN, "--password", PASSWORD, "--name", "Ops",
                  "--role", "admin"),
        env={**os.environ, **env}, capture_output=True, timeout=120, check=False, cwd=ctx.run_dir,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"kefu agents add: {done.stderr.decode()[-500:]}")
    ports = Ports(copier=free_port(), floor=free_port(), kefu=int(env[GRPC_PORT_ENV]))
    copy_dir = work / "copier"
    copy_dir.mkdir(exist_ok=True)
    copier_argv = python_argv(
        "bench.grpc_attachments", "--copier", str(ports.copier), str(copy_dir), str(source)
    )
    floor_argv = python_argv(
        "bench.grpc_attachments", "--floor", str(ports.floor), str(copy_dir), str(source)
    )
    # All servers on the server core, all up for the whole run; the rounds alternate
    # copy, bare gRPC and kefu so a neighbour's burst on this shared host falls on all.
    with (
        running(start_server("copier", copier_argv, cpus=ctx.cpus.server, log_dir=ctx.run_dir)),
        running(start_server("floor", floor_argv, cpus=ctx.cpus.server, log_dir=ctx.run_dir)),
    ):
        _wait_port(ports.copier)
        _wait_port(ports.floor)
        server, base = start_kefu(ctx, SCENARIO, env)  # stops itself if it never gets ready
        with running(server):
            _measure_transfers(result, work, source, sha, ports, server, base)
    for name in ("c.wav", "grpc-down.wav", "floor-down.wav", "warm-down.wav"):
        (work / name).unlink(missing_ok=True)
    return result


@dataclass(frozen=True)
class Ports:
    copier: int
    floor: int
    kefu: int


def _measure_transfers(
    result: dict[str, Any], work: Path, source: Path, sha: str, ports: Ports, server: Server,
    base: str,
) -> None:  # fmt: skip
    """The rounds: copy, bare gRPC and kefu in turn, each direction, RSS sampled around
    kefu's."""
    admin = _post(f"{base}/api/v1/auth/login", {"email": ADMIN, "password": PASSWORD})
    token = _post(
        f"{base}/api/v1/api-tokens",
        {"name": "bench", "scopes": ["attachments:write", "attachments:read"]},
        admin["token"],
    )["token"]
    ticket = str(
        _post(
            f"{base}/api/v1/tickets",
            {"customer_key": "C1", "subject": "recording", "body": "bench"},
            admin["token"],
        )["id"]
    )
    with (
        grpc.insecure_channel(f"127.0.0.1:{ports.kefu}") as channel,
        grpc.insecure_channel(f"127.0.0.1:{ports.floor}") as bare,
    ):
        # A warm-up of the full file each way: with 64 MiB, the first measured upload
        # still grew kefu's RSS by 4-7 MiB once (its resting level 150-152 MiB, then
        # 156-158 for the rest of the run; peaks 156-162 MiB in every round).
        copy_up(ports.copier, source)
        for chan in (bare, channel):
            _, warm = grpc_up(chan, token, ticket, source)
            grpc_down(chan, token, warm.id, work / "warm-down.wav")
        for key in SERIES:
            result[key] = []
        for _ in range(ROUNDS):
            _clean()
            result["copy_up_s"].append(copy_up(ports.copier, source))
            _clean()
            result["copy_sha_up_s"].append(copy_up(ports.copier, source, b"H"))
            _clean()
            took, info = grpc_up(bare, token, ticket, source)
            _check(info, sha)
            result["floor_up_s"].append(took)
            _clean()
            before = settled_rss(server.pid)
            with RssSampler(server.pid) as up_rss:
                took, info = grpc_up(channel, token, ticket, source)
            _check(info, sha)
            result["grpc_up_s"].append(took)
            result["rss_before_up_kib"].append(before)
            result["rss_peak_up_kib"].append(max(up_rss.samples))

            _clean()
            result["copy_down_s"].append(copy_down(ports.copier, FILE_BYTES, work / "c.wav"))
            _clean()
            result["floor_down_s"].append(grpc_down(bare, token, "floor", work / "floor-down.wav"))
            if _sha256(work / "floor-down.wav") != sha:
                raise RuntimeError("the bare servicer's download differs from the file")
            _clean()
            before = settled_rss(server.pid)
            with RssSampler(server.pid) as down_rss:
                took = grpc_down(channel, token, info.id, work / "grpc-down.wav")
            if _sha256(work / "grpc-down.wav") != sha:
                raise RuntimeError("the download differs from the upload")
            result["grpc_down_s"].append(took)
            result["rss_before_down_kib"].append(before)
            result["rss_peak_down_kib"].append(max(down_rss.samples))


def _clean() -> None:
    """Write back every dirty page before the next transfer starts its clock. Each
    download leaves 200 MiB unwritten in the client's file; without this the next
    round's first upload (the copy's) shared the disk with its write-back: the plain copy
    then ran slower than the copy that also hashes (349 vs 534 MB/s, 13:31 UTC)."""
    os.sync()


SERIES = (
    "copy_up_s", "copy_sha_up_s", "floor_up_s", "grpc_up_s", "copy_down_s", "floor_down_s",
    "grpc_down_s", "rss_before_up_kib", "rss_peak_up_kib", "rss_before_down_kib",
    "rss_peak_down_kib",
)  # fmt: skip


def _check(info: Any, sha: str) -> None:
    if info.sha256 != sha or info.size != FILE_BYTES:
        raise RuntimeError(f"the server stored other bytes: {info.sha256} {info.size}")


def _sha256(path: Path) -> str:
    with path.open("rb") as infile:
        return hashlib.file_digest(infile, "sha256").hexdigest()


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the copier never listened")
        time.sleep(0.05)


def rows(result: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for way, label in (("up", "upload"), ("down", "download")):
        metric = f"{label}_200mib_throughput"
        copy_key = (SCENARIO, "loopback-copy", metric)
        out.append(_speed_row(result, "loopback-copy", metric, f"copy_{way}_s"))
        if way == "up":
            row = _speed_row(result, "loopback-copy+sha256", metric, "copy_sha_up_s")
            row.baseline = copy_key
            out.append(row)
        bare = _speed_row(result, "bare-grpcio", metric, f"floor_{way}_s")
        bare.baseline = copy_key
        bare.note += "; per round x copy: " + _ratios(result, f"copy_{way}_s", f"floor_{way}_s")
        out.append(bare)
        kefu = _speed_row(result, "kefu-grpc", metric, f"grpc_{way}_s")
        ratio = statistics.median(result[f"copy_{way}_s"]) / statistics.median(
            result[f"grpc_{way}_s"]
        )
        kefu.target, _ = at_least(ratio, TARGET_RATIO)
        kefu.target += "x loopback copy"
        kefu.met = ratio >= TARGET_RATIO
        kefu.baseline = copy_key
        of_bare = statistics.median(result[f"floor_{way}_s"]) / statistics.median(
            result[f"grpc_{way}_s"]
        )
        kefu.note += (
            f"; per round x copy: {_ratios(result, f'copy_{way}_s', f'grpc_{way}_s')}"
            f"; {of_bare:.2f}x bare grpcio (per round: "
            f"{_ratios(result, f'floor_{way}_s', f'grpc_{way}_s')})"
        )
        out.append(kefu)
        growths = [
            (peak - before) / 1024
            for peak, before in zip(
                result[f"rss_peak_{way}_kib"], result[f"rss_before_{way}_kib"], strict=True
            )
        ]
        worst = round(max(growths), 1)
        target, met = at_most(worst, TARGET_RSS_MIB)
        out.append(
            Row(
                SCENARIO,
                "kefu-grpc",
                f"{label}_server_rss_growth",
                worst,
                "MiB",
                better="lower",
                target=target,
                met=met,
                note="largest of rounds: "
                + ", ".join(f"{g:.1f}" for g in growths)
                + f"; RSS before {min(result[f'rss_before_{way}_kib']) // 1024}-"
                f"{max(result[f'rss_before_{way}_kib']) // 1024} MiB",
            )
        )
    return out


def _speed_row(result: dict[str, Any], subject: str, metric: str, key: str) -> Row:
    """MB/s of the median round of ``key``'s transfers, each round in the note."""
    mb = result["file_bytes"] / 1e6
    rounds = ", ".join(f"{mb / t:.0f}" for t in result[key])
    value = round(mb / statistics.median(result[key]), 1)
    return Row(
        SCENARIO, subject, metric, value, "MB/s", better="higher",
        note=f"median of {len(result[key])} rounds: {rounds}",
    )  # fmt: skip


def _ratios(result: dict[str, Any], base_key: str, key: str) -> str:
    """Each round's speed over the baseline's in the same round."""
    return ", ".join(f"{b / t:.2f}" for b, t in zip(result[base_key], result[key], strict=True))


def run(ctx: Context) -> Outcome:
    result = measure(ctx)
    return Outcome(rows=rows(result), details=result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.grpc_attachments", description=__doc__)
    parser.add_argument("--copier", nargs=3, metavar=("PORT", "DIR", "SOURCE"))
    parser.add_argument("--floor", nargs=3, metavar=("PORT", "DIR", "SOURCE"))
    args = parser.parse_args(argv)
    if args.copier:
        port, directory, source = args.copier
        copier(int(port), Path(directory), Path(source))
        return 0
    if args.floor:
        from bench import grpc_floor  # the servicer's process only

        port, directory, source = args.floor
        grpc_floor.serve(int(port), Path(directory), Path(source))
        return 0
    from bench import run  # bench.run imports this module: only here, when run alone

    return run.main(["--only", SCENARIO])


if __name__ == "__main__":
    sys.exit(main())
