"""The Tickets list keeps what frames said while its page was on its way.

Opening the Tickets page asks for a page of tickets; a ``ticket.updated`` or
``ticket.created`` frame can arrive before that answer, which was read before the change.
The answer must not take the list back: the changed ticket keeps its new state and the
new one its row (they were lost until a reload).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Page, Route, WebSocket, expect

from kefu.config import Settings
from tests.support.browser import Opener, sign_in
from tests.support.console_tickets import TICKETS, open_tickets, row
from tests.support.held_route import HeldFirstAnswer
from tests.support.kefu import Kefu


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(tickets=TICKETS)


def _heard(page: Page) -> list[dict[str, Any]]:
    """Every ticket frame the page's socket receives, as the browser got it."""
    frames: list[dict[str, Any]] = []

    def on_socket(socket: WebSocket) -> None:
        def on_frame(payload: str | bytes) -> None:
            frame = json.loads(payload)
            if str(frame.get("type", "")).startswith("ticket."):
                frames.append(frame)

        socket.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    return frames


async def test_frames_during_the_list_request_survive_its_answer(
    kefu: Kefu, browser: Opener
) -> None:
    ann = await kefu.add_agent("Ann Lee")
    bob = await kefu.add_agent("Bob Stone")
    body = {"customer_key": "C1001", "subject": "Parcel never arrived", "body": "Late."}
    status, first = await kefu.post("/api/v1/tickets", bob["token"], body)
    assert status == 201
    page = await browser()
    frames = _heard(page)
    await sign_in(page, kefu, ann["email"])

    hold_first = HeldFirstAnswer()

    listing = re.compile(r".*/api/v1/tickets\?.*")
    await page.route(listing, hold_first)
    await open_tickets(page)
    await hold_first.asked()

    status, _ = await kefu.patch(
        f"/api/v1/tickets/{first['id']}", bob["token"], {"priority": "urgent"}
    )
    assert status == 200
    status, second = await kefu.post(
        "/api/v1/tickets", bob["token"], body | {"subject": "Wrong size"}
    )
    assert status == 201
    async with asyncio.timeout(10):  # hang guard: both frames reached Ann's browser
        while not {("ticket.updated", first["id"]), ("ticket.created", second["id"])} <= {
            (f["type"], f["ticket"]["id"]) for f in frames
        }:
            await asyncio.sleep(0.02)

    await hold_first.release()  # the page read before both lands last
    await page.unroute(listing)
    await expect(row(page, first["id"]).locator(".prio")).to_have_text("urgent")
    await expect(row(page, second["id"])).to_contain_text("Wrong size")


async def test_the_next_note_can_be_typed_while_a_comment_saves(
    kefu: Kefu, browser: Opener
) -> None:
    """The composer empties when a comment is sent, not when it is saved: a note typed
    meanwhile was wiped by the first one's answer (test_console_tickets saw 1 comment)."""
    ann = await kefu.add_agent("Ann Lee")
    body = {"customer_key": "C1001", "subject": "Parcel never arrived", "body": "Late."}
    status, ticket = await kefu.post("/api/v1/tickets", ann["token"], body)
    assert status == 201
    page = await browser()
    await sign_in(page, kefu, ann["email"])
    await open_tickets(page)
    await row(page, ticket["id"]).click()
    view = page.locator("#tk-view")
    await expect(view.locator("#tk-subject")).to_have_text("Parcel never arrived")

    release = asyncio.Event()
    held: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def hold_first(route: Route) -> None:
        if held.done() or route.request.method != "POST":
            await route.continue_()
            return
        held.set_result(None)
        await release.wait()
        await route.continue_()

    comments = re.compile(rf".*/api/v1/tickets/{ticket['id']}/comments$")
    await page.route(comments, hold_first)
    composer = view.locator("#tk-comment-form")
    await composer.get_by_label("Comment").fill("Sorry! We are tracing the parcel.")
    await composer.get_by_role("button", name="Add comment").click()
    await asyncio.wait_for(held, 10)  # the reply is on its way, not saved yet
    await composer.get_by_label("Internal note").check()
    await composer.get_by_label("Comment").fill("DHL case 4471: call back on Friday.")
    release.set()
    await composer.get_by_role("button", name="Add note").click()
    listed = view.locator("#tk-comments .tk-comment")
    await expect(listed).to_have_count(2)
    await expect(listed.nth(1)).to_contain_text("DHL case 4471: call back on Friday.")
    await page.unroute(comments)
