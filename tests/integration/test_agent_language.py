"""The console language an agent chose is kept server-side (``agents.language``), so it
follows the agent to another device: ``PATCH /api/v1/auth/me {"language": ...}``, read back
by ``GET /api/v1/auth/me`` and the login answer. Anything but "en", "zh-CN" or null is a
422 in the contract's error shape and changes nothing. On both stores, over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.kefu import Kefu


async def me(kefu: Kefu, token: str) -> dict[str, Any]:
    status, body = await kefu.get("/api/v1/auth/me", token)
    assert status == 200, body
    agent: dict[str, Any] = body
    return agent


async def test_language_is_saved_per_agent_and_read_back_on_every_device(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    bob = await kefu.add_agent("Bob")
    assert ann["language"] is None  # the login answer has it: null until chosen
    assert (await me(kefu, ann["token"]))["language"] is None

    status, body = await kefu.patch("/api/v1/auth/me", ann["token"], {"language": "zh-CN"})
    assert status == 200, body
    assert body["language"] == "zh-CN" and body["away"] is False
    assert (await me(kefu, ann["token"]))["language"] == "zh-CN"
    assert (await me(kefu, bob["token"]))["language"] is None  # per agent

    # Another device: a fresh login answers the saved language; so does the store.
    again = await kefu.login(ann["email"])
    assert again["language"] == "zh-CN"
    stored = await kefu.node.repos.agents.require(ann["id"])
    assert stored.language == "zh-CN"

    # Language and away in one body; away alone leaves the language as it was.
    status, body = await kefu.patch(
        "/api/v1/auth/me", ann["token"], {"language": "en", "away": True}
    )
    assert status == 200 and (body["language"], body["away"]) == ("en", True)
    status, body = await kefu.patch("/api/v1/auth/me", ann["token"], {"away": False})
    assert status == 200 and (body["language"], body["away"]) == ("en", False)

    # null: follow the browser again.
    status, body = await kefu.patch("/api/v1/auth/me", ann["token"], {"language": None})
    assert status == 200 and body["language"] is None
    assert (await kefu.login(ann["email"]))["language"] is None


@pytest.mark.parametrize(
    "patch",
    [
        {"language": "fr"},
        {"language": "zh"},
        {"language": "zh-cn"},
        {"language": "EN"},
        {"language": ""},
        {"language": 1},
        {"language": ["en"]},
        {"language": "zh-CN", "theme": "dark"},
        {"language": "zh-CN", "away": None},
        {},
    ],
)
async def test_a_bad_language_is_a_422_and_changes_nothing(
    kefu: Kefu, patch: dict[str, Any]
) -> None:
    ann = await kefu.add_agent("Ann")
    status, body = await kefu.patch("/api/v1/auth/me", ann["token"], {"language": "en"})
    assert status == 200

    status, body = await kefu.patch("/api/v1/auth/me", ann["token"], patch)
    assert status == 422, body
    assert body["error"]["code"] == "validation_error"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    after = await me(kefu, ann["token"])
    assert (after["language"], after["away"]) == ("en", False)


async def test_visitors_cannot_choose_an_agent_language(kefu: Kefu) -> None:
    visitor = await kefu.visitor(name="Vera")
    status, body = await kefu.patch("/api/v1/auth/me", visitor["token"], {"language": "en"})
    assert status == 403, body
    assert body["error"]["code"] == "agents_only"
