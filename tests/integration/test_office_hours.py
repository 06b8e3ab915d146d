"""Office hours on both stores: outside them the widget's availability says closed and
when chat opens, and a chat started anyway gets the offline notice while an agent who is
online still answers it; without office hours chat is always open."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kefu.config import Settings
from tests.support.kefu import Kefu

TODAY = datetime.now(UTC).date()
ALL_WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    # Closed all of today (a holiday), open from 09:00 UTC tomorrow.
    return settings_factory(
        chat={
            "office_hours": {
                "timezone": "UTC",
                "days": ALL_WEEK,
                "start": "09:00",
                "end": "17:00",
                "holidays": [TODAY.isoformat()],
            }
        }
    )


async def availability(kefu: Kefu) -> dict[str, Any]:
    async with kefu.http.get(kefu.url("/api/v1/availability")) as resp:
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
    # No ?site= asked: the default language (the site's locale is tested in test_site_locale).
    assert body.pop("locale") == "en"
    return body


async def test_outside_office_hours_chat_is_closed_but_online_agents_answer(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    ann_ws = await kefu.ws(ann["token"])
    tomorrow = TODAY + timedelta(days=1)
    assert await availability(kefu) == {
        "agents_online": False,
        "open": False,
        "opens_at": f"{tomorrow.isoformat()}T09:00:00Z",
    }
    visitor = await kefu.ws((await kefu.visitor(name="Night owl"))["token"])
    ack = await visitor.send_message("anyone awake?")
    notice = kefu.node.chat.offline_message
    while True:
        frame = await visitor.expect("message.new")
        if frame["message"]["body"] == notice:
            break
    # Ann is online: she still gets the chat and can answer.
    await ann_ws.expect("conversation.assigned", conversation_id=ack["conversation_id"])
    await ann_ws.send_message("I am!", conversation_id=ack["conversation_id"])
    await ann_ws.close()
    await visitor.close()


async def test_bad_office_hours_fail_at_start_naming_the_key(
    settings_factory: Callable[..., Settings],
) -> None:
    from kefu.errors import ConfigError

    for bad, key in (
        ({"timezone": "Mars/Olympus"}, "chat.office_hours.timezone"),
        ({"start": "18:00", "end": "09:00"}, "chat.office_hours"),
        ({"days": ["someday"]}, "chat.office_hours.days"),
    ):
        with pytest.raises(ConfigError) as caught:
            settings_factory(chat={"office_hours": bad})
        assert key in str(caught.value), (bad, str(caught.value))


async def test_without_office_hours_chat_is_always_open(
    settings_factory: Callable[..., Settings],
) -> None:
    from tests.support.kefu import serving

    async with serving(settings_factory()) as kefu:
        assert await availability(kefu) == {"agents_online": False, "open": True, "opens_at": None}
        ann = await kefu.add_agent("Ann")
        socket = await kefu.ws(ann["token"])
        assert await availability(kefu) == {"agents_online": True, "open": True, "opens_at": None}
        await socket.close()
