"""One way to log an unexpected exception at an entry point (REST, native routes, gRPC).

Why not ``log.exception``: an exception's text can carry customer data (SQLAlchemy's
errors quote the statement's parameters; a driver may quote the offending value) and
the requested path can be a customer key (``/customers/{key}/360``). Logs carry no
customer data above DEBUG, so the ERROR line names the route template, the exception's
type and where it was raised (the stack's file, line and code, never its values); the
exception's text follows at DEBUG for whoever turns that on.
"""

from __future__ import annotations

import logging
import traceback

log = logging.getLogger("kefu.unexpected")


def client_went_away(exc: BaseException) -> bool:
    """Whether ``exc`` only says the client closed its connection before the answer.

    A browser tab closed mid-request, or a load balancer's health check giving up, is
    routine on a busy node: nothing to fix, and nobody left to answer.
    """
    return isinstance(exc, ConnectionResetError)


def report_unexpected(where: str, exc: BaseException) -> None:
    """Log ``exc`` (raised while serving ``where``, e.g. ``GET /api/v1/tickets``)."""
    kind = type(exc)
    name = f"{kind.__module__}.{kind.__qualname__}"
    if client_went_away(exc):
        log.debug("the client went away during %s (%s)", where, name)
        return
    stack = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
    log.error("unhandled %s on %s\n%s", name, where, stack)
    log.debug("unhandled %s on %s: %s", name, where, exc, exc_info=exc)
