"""``kefu.v1.CustomerService``: the customer 360 for systems that speak gRPC."""

from __future__ import annotations

import grpc

from kefu.api.kernel import bearer_token
from kefu.errors import BadInput, Forbidden, KefuError, Unauthenticated
from kefu.node import Node
from kefu.observability.failures import report_unexpected
from kefu.v1 import unified_pb2 as pb
from kefu.v1 import unified_pb2_grpc as pb_grpc

STATUS_FOR = {
    BadInput: grpc.StatusCode.INVALID_ARGUMENT,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    Forbidden: grpc.StatusCode.PERMISSION_DENIED,
}


def bearer(context: grpc.aio.ServicerContext) -> str | None:
    for name, value in context.invocation_metadata() or ():
        if name == "authorization" and isinstance(value, str):
            token = bearer_token(value)
            if token is not None:
                return token
    return None


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
        except KefuError as exc:
            code = next(
                (status for kind, status in STATUS_FOR.items() if isinstance(exc, kind)),
                grpc.StatusCode.UNAVAILABLE if exc.status == 503 else grpc.StatusCode.INTERNAL,
            )
            await context.abort(code, f"{exc.code}: {exc.message}")
            raise  # abort raises; this line only tells type checkers so
        except Exception as exc:
            # Like REST's internal_error: logged here, no exception text to the caller
            # (grpc.aio would send it as UNKNOWN with the exception's text).
            report_unexpected("gRPC kefu.v1.CustomerService/GetUnified", exc)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            raise
