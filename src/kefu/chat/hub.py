"""Where sockets live: principal key -> open connections, for addressed fan-out."""

from __future__ import annotations

from collections.abc import Iterable

from kefu.chat.connection import Connection
from kefu.observability import metrics


class Hub:
    def __init__(self) -> None:
        self._sockets: dict[str, set[Connection]] = {}

    def add(self, connection: Connection) -> bool:
        """Register; True when this is the principal's first socket (it came online)."""
        sockets = self._sockets.setdefault(connection.principal.key, set())
        sockets.add(connection)
        metrics.SOCKETS_OPEN.inc()
        return len(sockets) == 1

    def remove(self, connection: Connection) -> bool:
        """Unregister; True when that was the principal's last socket (it went offline)."""
        key = connection.principal.key
        sockets = self._sockets.get(key)
        if sockets is None or connection not in sockets:
            return False
        sockets.discard(connection)
        metrics.SOCKETS_OPEN.dec()
        if sockets:
            return False
        del self._sockets[key]
        return True

    def send(self, keys: Iterable[str], frame: bytes) -> None:
        """The same encoded bytes to every socket of every principal in ``keys``."""
        for key in keys:
            for connection in self._sockets.get(key, ()):
                connection.send(frame)

    def online(self, key: str) -> bool:
        return key in self._sockets

    def connections(self) -> list[Connection]:
        return [c for sockets in self._sockets.values() for c in sockets]

    def __len__(self) -> int:
        return sum(len(s) for s in self._sockets.values())
