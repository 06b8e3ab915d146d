"""Make aiohttp-asgi's ``receive`` behave as ASGI servers do once the body is read.

After the request body, aiohttp-asgi answers every further ``receive()`` at once with
another empty ``http.request`` chunk. Starlette's streaming and file responses call
``receive()`` in a loop to notice ``http.disconnect``, so through the bridge they spin at
100% CPU until the response ends (seen with attachment downloads). ASGI servers block
there instead; so does this wrapper, until the response is done and Starlette cancels
the listener.

It also hands Starlette the query string as it came, percent-encoded: aiohttp-asgi passes
aiohttp's *decoded* ``query_string`` encoded as UTF-8, which Starlette reads as Latin-1
(ASGI's rule for this byte string), so ``?q=%E8%AE%A2%E5%8D%95`` arrived as mojibake
instead of 订单. aiohttp's ``raw_path`` (in the scope) still holds the raw query.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class PatientReceive:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or b""
        if b"?" in raw_path:
            scope = {**scope, "query_string": raw_path.split(b"?", 1)[1]}
        body_done = False

        async def patient_receive() -> Message:
            nonlocal body_done
            if body_done:
                await asyncio.Event().wait()  # never set: cancelled with the response
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, patient_receive, send)
