"""A bare gRPC servicer of ``kefu.v1.AttachmentService`` for ``grpc_attachments``: what
gRPC in Python reaches with the work an upload and a download cannot skip, and none of
kefu's (no token, no database, no quota, no thread hops).

Same grpcio, event loop (uvloop), server options (``kefu.api.grpc.server``) and message
encoding (``kefu.api.grpc.wire``) as kefu. ``Upload`` hashes each chunk (sha256, as kefu
must for the content address and ``AttachmentInfo.sha256``), writes it to a file in the
event loop, asks the disk to store it every 16 MiB in a thread (as kefu), and fsyncs at
the end; ``Download`` reads the file 1 MiB at a time, as kefu
sends it. It tells how much of the distance to the loopback copy is gRPC's own.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import grpc
import uvloop

from kefu.api.grpc.attachments import DOWNLOAD_CHUNK_BYTES, SERVICE
from kefu.api.grpc.server import server_options
from kefu.api.grpc.wire import chunk_message, chunk_view
from kefu.attachments.storage import SYNC_EVERY_BYTES
from kefu.v1 import attachments_pb2 as pb


class Floor:
    def __init__(self, directory: Path, source: Path) -> None:
        self._target = directory / "floor-upload"
        self._source = source

    async def upload(self, requests: AsyncIterable[bytes], context: object) -> pb.AttachmentInfo:
        digest = hashlib.sha256()
        size = unsynced = 0
        syncing: threading.Thread | None = None
        with self._target.open("wb") as out:
            async for raw in requests:
                chunk = chunk_view(raw)
                if chunk is None:
                    continue  # the metadata
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
                unsynced += len(chunk)
                # As kefu (and the copier): the disk is asked to store what is written
                # every SYNC_EVERY_BYTES, so the final fsync waits for the last MiBs.
                if unsynced >= SYNC_EVERY_BYTES and (syncing is None or not syncing.is_alive()):
                    syncing = threading.Thread(target=os.fdatasync, args=(out.fileno(),))
                    syncing.start()
                    unsynced = 0
            if syncing is not None:
                syncing.join()
            out.flush()
            os.fsync(out.fileno())
        self._target.unlink()
        return pb.AttachmentInfo(id="floor", size=size, sha256=digest.hexdigest())

    async def download(self, request: pb.DownloadRequest, context: object) -> AsyncIterator[bytes]:
        info = pb.AttachmentInfo(id=request.id, size=self._source.stat().st_size)
        yield pb.DownloadResponse(metadata=info).SerializeToString()
        with self._source.open("rb") as infile:
            while data := infile.read(DOWNLOAD_CHUNK_BYTES):
                yield chunk_message(data)


async def _serve(port: int, directory: Path, source: Path) -> None:
    floor = Floor(directory, source)
    server = grpc.aio.server(options=server_options())
    handlers = {
        "Upload": grpc.stream_unary_rpc_method_handler(
            floor.upload, response_serializer=pb.AttachmentInfo.SerializeToString
        ),
        "Download": grpc.unary_stream_rpc_method_handler(
            floor.download, request_deserializer=pb.DownloadRequest.FromString
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


def serve(port: int, directory: Path, source: Path) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(port, directory, source))
