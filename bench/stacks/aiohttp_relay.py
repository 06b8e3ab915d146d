"""Raw relay on aiohttp's own WebSocket server: the stack kefu's gateway is built on.

Run: ``python -m bench.stacks.aiohttp_relay --port P``. ``/ws?id=A&peer=B`` registers the
socket as A and forwards each text frame it sends to the socket registered as B.
"""

from __future__ import annotations

import argparse

import uvloop
from aiohttp import WSMsgType, web

CONNS = web.AppKey("conns", dict[str, web.WebSocketResponse])


async def relay(request: web.Request) -> web.WebSocketResponse:
    """Forward frames verbatim; the default ``compress=True`` accepts permessage-deflate."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    conns = request.app[CONNS]
    me, peer = request.query["id"], request.query.get("peer", "")
    conns[me] = ws
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                other = conns.get(peer)
                if other is not None:
                    await other.send_str(msg.data)
    finally:
        conns.pop(me, None)
    return ws


async def health(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app() -> web.Application:
    app = web.Application()
    app[CONNS] = {}
    app.router.add_get("/ws", relay)
    app.router.add_get("/health", health)
    return app


def arguments(description: str | None) -> argparse.ArgumentParser:
    """The options every raw relay stack takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    return parser


def serve(app: web.Application, args: argparse.Namespace) -> None:
    uvloop.install()
    # backlog: the load generator opens thousands of sockets at once; 128 would drop SYNs.
    web.run_app(app, host=args.host, port=args.port, backlog=4096, print=None)


def main() -> None:
    serve(create_app(), arguments(__doc__).parse_args())


if __name__ == "__main__":
    main()
