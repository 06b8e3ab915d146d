"""A browser route whose first answer is held back: the console tests' way to make a
stale REST answer land after the live frames that are newer than it (the ordering bugs
they guard against), without sleeping."""

from __future__ import annotations

import asyncio

from playwright.async_api import Route

# A hang guard only: the held request is made, and released, by the test itself.
GUARD_SECONDS = 10


class HeldFirstAnswer:
    """``page.route(pattern, held)``: the first matching request is sent to the server at
    once (its answer is the state as it was then), but the answer reaches the page only
    after ``release()``; later requests pass untouched."""

    def __init__(self) -> None:
        self._taken = False
        self._held: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._release = asyncio.Event()
        self._delivered = asyncio.Event()

    async def __call__(self, route: Route) -> None:
        if self._taken:
            await route.continue_()
            return
        self._taken = True
        response = await route.fetch()  # the server's answer now, before what follows
        self._held.set_result(None)
        await self._release.wait()
        await route.fulfill(response=response)
        self._delivered.set()

    async def asked(self) -> None:
        """Until the page has made the request (its answer is then held)."""
        await asyncio.wait_for(asyncio.shield(self._held), GUARD_SECONDS)

    async def release(self) -> None:
        """Let the held answer reach the page, and wait until it has."""
        self._release.set()
        await asyncio.wait_for(self._delivered.wait(), GUARD_SECONDS)
