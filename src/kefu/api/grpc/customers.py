"""``kefu.v1.CustomerService``: the customer 360 for systems that speak gRPC."""

from __future__ import annotations

import grpc

from kefu.api.grpc.status import abort, bearer
from kefu.errors import Forbidden
from kefu.node import Node
from kefu.v1 import unified_pb2 as pb
from kefu.v1 import unified_pb2_grpc as pb_grpc


class CustomerService(pb_grpc.CustomerServiceServicer):
    """Agent-authenticated like REST: ``authorization: Bearer <agent token>`` metadata."""

    def __init__(self, node: Node) -> None:
        self._node = node

    async def GetUnified(
        self, request: pb.CustomerKey, context: grpc.aio.ServicerContext
    ) -> pb.UnifiedCustomer:
        try:
            caller = await self._node.auth.principal(bearer(context))
            if not caller.is_agent:
                raise Forbidden("agents only", code="agents_only")
            view = await self._node.customers.unified(request.key, refresh=request.refresh)
            return view.message()
        except Exception as exc:
            await abort(context, "kefu.v1.CustomerService/GetUnified", exc)
