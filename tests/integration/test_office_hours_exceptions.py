"""A site's dated office-hour exceptions over REST, on SQLite and PostgreSQL (issue 15):
a holiday closes the site's widget today and a new conversation gets the offline text;
special hours open a weekday the week keeps closed; both reach the public widget
settings and the availability answer. Bad dates answer 422 in the contract's shape and
change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kefu.config import Settings
from kefu.domain.roles import Role
from tests.support.kefu import Kefu

ALL_WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ZONE = "Asia/Shanghai"


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(sites=[{"id": "shop", "name": "Acme Shop", "origins": []}])


def today(kefu: Kefu) -> datetime:
    return kefu.node.clock.now().astimezone(ZoneInfo(ZONE))


async def widget(kefu: Kefu) -> dict[str, Any]:
    async with kefu.http.get(kefu.url("/api/v1/widget-settings?site=shop")) as resp:
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
    async with kefu.http.get(kefu.url("/api/v1/availability?site=shop")) as resp:
        available = await resp.json()
    assert (available["open"], available["opens_at"]) == (body["open"], body["opens_at"])
    return body


async def save(kefu: Kefu, token: str, hours: dict[str, Any]) -> tuple[int, Any]:
    return await kefu.put("/api/v1/sites/shop/settings", token, {"office_hours": hours})


async def test_a_holiday_closes_today_and_special_hours_open_a_closed_day(kefu: Kefu) -> None:
    root = (await kefu.add_agent("Root", Role.ADMIN))["token"]
    now = today(kefu)
    day, tomorrow = now.date(), now.date() + timedelta(days=1)
    every_day = {"timezone": ZONE, "days": ALL_WEEK, "start": "00:00", "end": "23:59"}
    status, saved = await save(kefu, root, {**every_day, "holidays": [day.isoformat()]})
    assert status == 200 and saved["office_hours"]["holidays"] == [day.isoformat()], saved
    closed = await widget(kefu)
    # Opens at local midnight tomorrow: 16:00 UTC today (Shanghai is UTC+8, no DST).
    assert closed["open"] is False
    assert closed["opens_at"] == f"{day.isoformat()}T16:00:00Z", closed

    # A conversation started on the holiday gets the welcome and the offline notice.
    ann = await kefu.add_agent("Ann")
    ann_ws = await kefu.ws(ann["token"])  # online; the site is closed all the same
    visitor = await kefu.visitor(site="shop")
    ws = await kefu.ws(visitor["token"])
    await ws.send_message("anyone there?")
    offline = kefu.node.chat.offline_message
    while (await ws.expect("message.new"))["message"]["body"] != offline:
        pass
    await ws.close()
    await ann_ws.close()

    # Today is no working weekday, but special hours open it all day.
    other_days = [d for d in ALL_WEEK if d != ALL_WEEK[day.weekday()]]
    special = {"date": day.isoformat(), "start": "00:00", "end": "23:59"}
    status, saved = await save(kefu, root, {**every_day, "days": other_days, "special": [special]})
    assert status == 200 and saved["office_hours"]["special"] == [special], saved
    assert (await widget(kefu))["open"] is True
    # Without them today is closed until tomorrow (a listed weekday).
    status, _ = await save(kefu, root, {**every_day, "days": [ALL_WEEK[tomorrow.weekday()]]})
    assert status == 200
    assert (await widget(kefu))["opens_at"] == f"{day.isoformat()}T16:00:00Z"


@pytest.mark.parametrize(
    "change",
    [
        {"holidays": ["2026-02-30"]},
        {"holidays": ["26-12-25"]},
        {"holidays": [20261225]},
        {"holidays": ["2026-12-25T00:00:00"]},
        {"holidays": ["1999-12-31"]},
        {"holidays": ["2026-12-25"] * 367},
        {"special": [{"date": "2026-12-24", "start": "12:00", "end": "09:00"}]},
        {"special": [{"date": "2026-12-24", "start": "09:00", "end": "24:00"}]},
        {"special": [{"date": "2026-12-24", "start": "09:00"}]},
        {"special": [{"date": "2026-12-24", "start": "09:00", "end": "12:00", "x": 1}]},
        {
            "special": [
                {"date": "2026-12-24", "start": "09:00", "end": "12:00"},
                {"date": "2026-12-24", "start": "13:00", "end": "15:00"},
            ]
        },
        {
            "holidays": ["2026-12-24"],
            "special": [{"date": "2026-12-24", "start": "09:00", "end": "12:00"}],
        },
    ],
)
async def test_bad_dates_are_refused_and_change_nothing(kefu: Kefu, change: dict[str, Any]) -> None:
    root = (await kefu.add_agent("Root", Role.ADMIN))["token"]
    good = {"timezone": ZONE, "holidays": ["2027-01-01"]}
    status, _ = await save(kefu, root, good)
    assert status == 200
    status, before = await kefu.get("/api/v1/sites/shop/settings", root)
    status, body = await save(kefu, root, {**good, **change})
    assert status == 422, body
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == "validation_error"
    assert "office_hours" in body["error"]["message"]
    status, after = await kefu.get("/api/v1/sites/shop/settings", root)
    assert status == 200 and after == before
