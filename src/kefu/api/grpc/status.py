"""kefu's errors as gRPC status codes: one table for every servicer.

The details are ``"<code>: <message>"`` (the REST error's code and sentence); nothing of
an unexpected exception reaches the caller (CONTRACT.md), it is logged and answered
INTERNAL, as REST answers ``internal_error``.
"""

from __future__ import annotations

from typing import NoReturn

import grpc

from kefu.api.kernel import bearer_token
from kefu.errors import KefuError, RateLimited
from kefu.observability.failures import report_unexpected

# By the HTTP status each error carries (kefu.errors), so a new subclass needs no entry.
# 413 and 429 are both "a limit was reached": RESOURCE_EXHAUSTED, as gRPC itself answers
# a message over its size limit. 415 (a file type not accepted) is bad input here.
STATUS_BY_HTTP = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
}


def bearer(context: grpc.aio.ServicerContext) -> str | None:
    """The token of the call's ``authorization: Bearer T`` metadata, if any."""
    for name, value in context.invocation_metadata() or ():
        if name == "authorization" and isinstance(value, str):
            token = bearer_token(value)
            if token is not None:
                return token
    return None


def status_of(exc: KefuError) -> grpc.StatusCode:
    return STATUS_BY_HTTP.get(exc.status, grpc.StatusCode.INTERNAL)


async def abort(context: grpc.aio.ServicerContext, where: str, exc: Exception) -> NoReturn:
    """End the call with ``exc`` as a status (``where`` names the method in logs)."""
    if isinstance(exc, KefuError):
        if isinstance(exc, RateLimited):
            context.set_trailing_metadata((("retry-after", str(int(exc.retry_after))),))
        await context.abort(status_of(exc), f"{exc.code}: {exc.message}")
    # Like REST's internal_error: logged here, no exception text to the caller
    # (grpc.aio would send it as UNKNOWN with the exception's text).
    report_unexpected(f"gRPC {where}", exc)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")
    raise RuntimeError("grpc.aio's abort returned")  # it raises; this tells type checkers
