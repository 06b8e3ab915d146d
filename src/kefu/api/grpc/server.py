"""The gRPC server: CustomerService and AttachmentService, plus the standard health and
reflection services so ``grpcurl`` and load balancers work without a copy of the .proto."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from kefu.api.grpc import attachments
from kefu.api.grpc.customers import CustomerService
from kefu.node import Node
from kefu.v1 import unified_pb2 as pb
from kefu.v1 import unified_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["CustomerService"].full_name
# A 360 is a few KB and an upload chunk at most this (AttachmentService streams files in
# many messages): this bounds what one message may make the server read.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# Flow control: a fixed window of 1 MiB per stream instead of gRPC's bandwidth-delay
# probing, which grew the window of one 200 MiB upload to tens of MiB buffered in the
# server whenever the disk was slower than the network (bench grpc_attachments: RSS +24
# to +88 MiB per upload with probing, +6 to +10 MiB without). 1 MiB still fills a link of
# 1 ms round trip at ~1 GB/s.
STREAM_WINDOW_BYTES = 1024 * 1024


def server_options(reuse_port: bool = False) -> list[tuple[str, int]]:
    """kefu's gRPC server options (the bench's bare gRPC servicer runs with them too)."""
    return [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.so_reuseport", int(reuse_port)),
        ("grpc.http2.bdp_probe", 0),
        ("grpc.http2.lookahead_bytes", STREAM_WINDOW_BYTES),
    ]


async def start_grpc(
    node: Node, host: str, port: int, *, reuse_port: bool = False
) -> tuple[grpc.aio.Server, int]:
    """Start serving; returns the server and the port it bound (``port`` 0 = any).

    gRPC sets SO_REUSEPORT by default on Linux, which would let a second kefu share a
    taken port silently; only worker processes of one ``kefu serve`` (``reuse_port``)
    share it on purpose.
    """
    server = grpc.aio.server(options=server_options(reuse_port))
    pb_grpc.add_CustomerServiceServicer_to_server(CustomerService(node), server)  # type: ignore[no-untyped-call]
    attachments.add_to_server(attachments.AttachmentService(node), server)
    checks = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checks, server)
    reflection.enable_server_reflection(
        (SERVICE, attachments.SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:  # grpc reports a taken port this way
        bound = 0
    if bound == 0:
        raise OSError(f"cannot listen for gRPC on {host}:{port}")
    await server.start()
    for name in ("", SERVICE, attachments.SERVICE):
        await checks.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, bound
