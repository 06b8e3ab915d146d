"""Where log lines go and how they look, for every process kefu starts.

Its own module, importing nothing of kefu, so the CLI's light commands (``kefu agents``,
``kefu migrate``) set logging up without importing the node and the server."""

from __future__ import annotations

import logging


def configure_logging(level: str, worker: int | None = None) -> None:
    """Log lines on stderr; a worker's carry ``worker<N>[<pid>]`` so interleaved lines of
    several workers can be told apart."""
    who = f"worker{worker}[%(process)d] " if worker is not None else ""
    logging.basicConfig(
        level=level.upper(), format=f"%(asctime)s %(levelname)s {who}%(name)s: %(message)s"
    )
    # Alembic narrates every connection at INFO; kefu logs the revisions it applies itself.
    logging.getLogger("alembic").setLevel(logging.WARNING)
