"""Streaming responses through aiohttp-asgi wait for the client instead of spinning."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import ClientSession, web
from aiohttp_asgi import ASGIResource
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu.api.asgi_bridge import PatientReceive


class CountReceives:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting() -> Message:
            self.calls += 1
            return await receive()

        await self.app(scope, counting, send)


async def test_a_streaming_response_reads_the_bridge_once_not_in_a_loop() -> None:
    api = FastAPI()

    @api.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(3):
                yield b"x"
                await asyncio.sleep(0.2)

        return StreamingResponse(chunks())

    counter = CountReceives(PatientReceive(api))
    app = web.Application()
    app.router.register_resource(ASGIResource(counter, root_path="/"))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with ClientSession() as http, http.get(f"http://127.0.0.1:{port}/stream") as resp:
            assert await resp.read() == b"xxx"
    finally:
        await runner.cleanup()
    assert counter.calls <= 2  # without PatientReceive: thousands of empty chunks
