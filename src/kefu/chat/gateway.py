"""The WebSocket endpoint ``/ws`` (aiohttp): authenticate, then read frames until close.

Frames from one socket are handled in order, one at a time, so a client's messages are
stored in the order it sent them. Every malformed frame gets an ``error`` frame; only an
exception we did not foresee is logged, and even then the socket stays up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from kefu.auth.origins import OriginPolicy
from kefu.auth.principal import Principal
from kefu.auth.service import AuthService
from kefu.chat import frames, server_frames
from kefu.chat.admission import SocketLimits
from kefu.chat.blacklist import Blacklist
from kefu.chat.connection import CLOSE_UNAUTHORIZED, Connection, SocketState
from kefu.chat.hub import Hub
from kefu.chat.service import ChatService
from kefu.config import WebSocketSettings
from kefu.domain.ids import parse_message_id
from kefu.domain.ratelimit import TokenBucket
from kefu.errors import KefuError
from kefu.forwarded import ClientAddress
from kefu.observability import metrics
from kefu.store.agents import AgentRepository

log = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403
# Over a socket cap (kefu.chat.admission): 4000 + HTTP's 429 Too Many Requests.
CLOSE_TOO_MANY_SOCKETS = 4429
PONG = server_frames.encode(server_frames.Pong())

Handler = Callable[[Connection, frames.ClientFrame], Awaitable[None]]


class Gateway:
    def __init__(
        self,
        auth: AuthService,
        chat: ChatService,
        hub: Hub,
        agents: AgentRepository,
        blacklist: Blacklist,
        client_address: ClientAddress,
        settings: WebSocketSettings,
        origins: OriginPolicy | None = None,
    ) -> None:
        self._origins = origins
        self._client_address = client_address
        self._auth = auth
        self._chat = chat
        self._hub = hub
        self._agents = agents
        self._blacklist = blacklist
        self._settings = settings
        self._limits = SocketLimits(
            settings.max_sockets_per_principal, settings.max_visitor_sockets_per_ip
        )
        self._handlers: dict[type[frames.ClientFrame], Handler] = {
            frames.MessageSend: self._on_send,  # type: ignore[dict-item]
            frames.Typing: self._on_typing,  # type: ignore[dict-item]
            frames.Read: self._on_read,  # type: ignore[dict-item]
            frames.Resume: self._on_resume,  # type: ignore[dict-item]
            frames.Ping: self._on_ping,
            frames.Watch: self._on_watch,  # type: ignore[dict-item]
            frames.Unwatch: self._on_unwatch,  # type: ignore[dict-item]
        }

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Authenticate, register, then complete the handshake.

        The socket is in the hub (and an agent counted online) before the client sees the
        101 response, so anything that happens after its connect returns reaches it;
        frames queued meanwhile wait in the connection until the handshake is sent.
        """
        ws = web.WebSocketResponse(
            heartbeat=self._settings.heartbeat_seconds,
            max_msg_size=self._settings.max_frame_bytes,
            compress=self._settings.permessage_deflate,
        )
        try:
            principal = await self._auth.principal(query_token(request))
        except KefuError as exc:
            return await self._refuse(ws, request, exc.code, exc.message, CLOSE_UNAUTHORIZED)
        ip = self._client_address.of(request)
        try:
            self._blacklist.check(principal, ip)
        except KefuError as exc:
            return await self._refuse(ws, request, exc.code, exc.message, CLOSE_FORBIDDEN)
        if self._origins is not None and not self._origins.socket_allows(
            principal, request.headers.get("Origin"), request.host
        ):
            return await self._refuse(
                ws,
                request,
                "origin_not_allowed",
                "this page's origin may not open this socket",
                CLOSE_FORBIDDEN,
            )
        transport = request.transport
        if transport is None:
            return ws  # the peer left before the handshake
        refusal = self._limits.admit(principal, ip)  # counted from here: released below
        if refusal is not None:
            return await self._refuse(
                ws, request, "too_many_sockets", refusal, CLOSE_TOO_MANY_SOCKETS
            )

        connection = Connection(ws, transport, principal, self._settings.send_buffer_bytes)
        first = self._hub.add(connection)
        try:
            if first and principal.is_agent:
                await self._agent_online(principal)
            await ws.prepare(request)
            if connection.state is not SocketState.OPEN:  # revoked while registering
                await ws.close(code=CLOSE_UNAUTHORIZED, message=b"token_revoked")
                return ws
            connection.start()
            await self._read_loop(connection, ip)
        finally:
            self._limits.release(principal, ip)
            last = self._hub.remove(connection)
            await connection.close()
            if last and principal.is_agent:
                self._chat.agent_offline(principal.id)
        return ws

    @staticmethod
    async def _refuse(
        ws: web.WebSocketResponse, request: web.Request, code: str, message: str, close: int
    ) -> web.WebSocketResponse:
        """Complete the handshake only to say why, then close: browsers cannot read the
        body of a refused upgrade, but they do see an error frame and the close code."""
        metrics.SOCKETS_REFUSED.labels(code).inc()
        await ws.prepare(request)
        await ws.send_frame(server_frames.error(code, message), WSMsgType.TEXT)
        await ws.close(code=close, message=code.encode())
        return ws

    async def _agent_online(self, principal: Principal) -> None:
        agent = await self._agents.get(principal.id)
        if agent is not None and not agent.disabled:
            await self._chat.agent_online(agent)

    async def _read_loop(self, connection: Connection, ip: str) -> None:
        loop = asyncio.get_running_loop()
        bucket = TokenBucket(
            self._settings.frames_per_second, self._settings.frame_burst, loop.time()
        )
        visitor = not connection.principal.is_agent
        async for msg in connection.ws:
            if msg.type is WSMsgType.TEXT:
                metrics.HOT.frames_in += 1
                if visitor and self._blacklist.blocks(ip):
                    # Blocked after this socket opened: it acts no more.
                    await self._close_blocked(connection)
                    break
                if bucket.take(loop.time()):
                    await self._dispatch(connection, msg.data)
                else:
                    self._error(
                        connection,
                        "rate_limited",
                        "too many frames; slow down",
                        frames.client_msg_id_of(msg.data),
                    )
            elif msg.type is WSMsgType.BINARY:
                self._error(connection, "binary_not_supported", "send JSON text frames")
            elif msg.type is WSMsgType.ERROR:
                # aiohttp reports oversized frames here and closes with 1009 itself.
                metrics.FRAME_ERRORS.labels("protocol").inc()
                log.info("socket error from %s: %s", connection.principal.key, msg.data)
                break

    async def _close_blocked(self, connection: Connection) -> None:
        self._error(connection, "blocked", "this address is blocked")
        connection.flush_now()  # the error frame goes out before the close frame
        await connection.ws.close(code=CLOSE_FORBIDDEN, message=b"blocked")

    async def _dispatch(self, connection: Connection, data: str) -> None:
        client_msg_id: str | None = None
        try:
            frame = frames.decode(data)
            client_msg_id = getattr(frame, "client_msg_id", None)
            await self._handlers[type(frame)](connection, frame)
        except frames.FrameError as exc:
            self._error(connection, exc.code, exc.message, exc.client_msg_id)
        except KefuError as exc:
            self._error(connection, exc.code, exc.message, client_msg_id)
        except Exception:
            log.exception("frame from %s failed", connection.principal.key)
            self._error(connection, "internal_error", "the server failed; retry", client_msg_id)

    def _error(
        self, connection: Connection, code: str, message: str, client_msg_id: str | None = None
    ) -> None:
        metrics.FRAME_ERRORS.labels(code).inc()
        connection.send(server_frames.error(code, message, client_msg_id))

    async def _on_send(self, connection: Connection, frame: frames.MessageSend) -> None:
        await self._chat.send(
            connection.principal,
            frame.client_msg_id,
            frame.body,
            frame.conversation_id,
            connection.send,
            frame.attachment_ids,
            frame.internal,
        )

    async def _on_typing(self, connection: Connection, frame: frames.Typing) -> None:
        await self._chat.typing(connection.principal, frame.conversation_id)

    async def _on_read(self, connection: Connection, frame: frames.Read) -> None:
        await self._chat.read(connection.principal, frame.conversation_id, frame.message_id)

    async def _on_resume(self, connection: Connection, frame: frames.Resume) -> None:
        connection.hold(frame.conversation_id)
        last: str | None = None
        try:
            last = await self._chat.replay(
                connection.principal,
                frame.conversation_id,
                frame.after_message_id,
                connection.send_in_order,
                before=connection.replay_bound(frame.conversation_id),
            )
        finally:
            connection.release(frame.conversation_id, parse_message_id(last or "") or 0)
        connection.send(server_frames.encode(server_frames.ResumeDone(frame.conversation_id, last)))

    async def _on_watch(self, connection: Connection, frame: frames.Watch) -> None:
        if await self._chat.may_watch(connection.principal, frame.conversation_id):
            self._hub.watch(connection, frame.conversation_id)

    async def _on_unwatch(self, connection: Connection, frame: frames.Unwatch) -> None:
        self._hub.unwatch(connection, frame.conversation_id)

    async def _on_ping(self, connection: Connection, frame: frames.ClientFrame) -> None:
        connection.send(PONG)


def query_token(request: web.Request) -> str | None:
    """The first ``token`` of the query string, decoded as ``request.query`` would.

    Not ``request.query``: that parses every parameter into a multidict cached on the
    request's URL, which lives as long as the socket (~750 bytes of each idle socket's
    ~20 KB; issue 17 wants 50,000 of them in one machine's memory)."""
    for name, value in parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True):
        if name == "token":
            return value
    return None
