"""Where sockets live: principal key -> open connections, for addressed fan-out."""

from __future__ import annotations

from collections.abc import Iterable

from kefu.chat import frames
from kefu.chat.connection import CLOSE_UNAUTHORIZED, Connection
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

    def send(
        self,
        keys: Iterable[str],
        frame: bytes,
        conversation_id: str | None = None,
        message_id: int | None = None,
    ) -> None:
        """The same encoded bytes to every socket of every principal in ``keys``.

        ``conversation_id``/``message_id`` let a socket that is replaying that conversation
        hold the frame back until the replay is done (see ``Connection.hold``).
        """
        for key in keys:
            for connection in self._sockets.get(key, ()):
                connection.send(frame, conversation_id, message_id)

    async def disconnect(self, key: str, reason: str) -> None:
        """Close every socket of ``key`` (revoked credentials) with 4401 and an error frame."""
        for connection in list(self._sockets.get(key, ())):
            connection.send(frames.error(reason, "credentials revoked; sign in again"))
            await connection.ws.close(code=CLOSE_UNAUTHORIZED, message=reason.encode())

    def online(self, key: str) -> bool:
        return key in self._sockets

    def connections(self) -> list[Connection]:
        return [c for sockets in self._sockets.values() for c in sockets]

    def __len__(self) -> int:
        return sum(len(s) for s in self._sockets.values())
