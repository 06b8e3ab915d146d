"""Raw relay on FastAPI under uvicorn, the stack a FastAPI user deploys by default.

Run: ``python -m bench.stacks.asgi_relay --port P --ws websockets|websockets-sansio|wsproto``.
Same protocol as :mod:`bench.stacks.aiohttp_relay`, so only the stack differs.
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse


def create_app() -> FastAPI:
    """Build the app; the socket registry lives on ``app.state``, not in a module global."""
    app = FastAPI()
    conns: dict[str, WebSocket] = {}
    app.state.conns = conns

    @app.get("/health", response_class=PlainTextResponse)
    async def health() -> str:
        return "ok"

    @app.websocket("/ws")
    async def relay(websocket: WebSocket, id: str, peer: str = "") -> None:
        await websocket.accept()
        conns[id] = websocket
        try:
            while True:
                data = await websocket.receive_text()
                other = conns.get(peer)
                if other is not None:
                    await other.send_text(data)
        except WebSocketDisconnect:
            pass
        finally:
            conns.pop(id, None)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ws", default="websockets-sansio")
    args = parser.parse_args()
    uvicorn.run(
        create_app(),
        host=args.host,
        port=args.port,
        ws=args.ws,
        loop="uvloop",
        # httptools when installed, as with ``uvicorn[standard]``: what users deploy.
        http="auto",
        log_level="warning",
        backlog=4096,
        # uvicorn's defaults (deflate on, 20 s pings) are kept: they are what users run.
    )


if __name__ == "__main__":
    main()
