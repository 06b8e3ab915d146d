"""Keep third-party request lines, which quote whole URLs, out of logs above DEBUG.

httpx logs every request at INFO with its full URL: ``HTTP Request: GET
http://crm/api/customers?phone=8613800001001 "HTTP/1.1 200 OK"``. A department system
asked by key, phone or email puts customer data in that URL, and a webhook URL may hold
its secret. kefu logs its own line instead (``source crm: HTTP 200``, the source's name
and status: ``kefu.unify.connectors._http``); httpx's line is still there for whoever
runs at DEBUG.
"""

from __future__ import annotations

import logging

# Libraries that log request URLs at INFO.
URL_LOGGERS = ("httpx",)


class _OnlyWhenDebugging(logging.Filter):
    """Passes warnings and errors; the rest only while kefu logs at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or logging.getLogger("kefu").isEnabledFor(
            logging.DEBUG
        )


def keep_urls_out_of_logs() -> None:
    """Install the filter once per logger (idempotent: every node start calls it)."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _OnlyWhenDebugging) for f in logger.filters):
            logger.addFilter(_OnlyWhenDebugging())
