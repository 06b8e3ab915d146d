"""`kefu demo` (what `make demo` runs) starts on embedded defaults and its logins work."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp

from tests.support.cli import kefu_demo


async def test_demo_serves_and_its_printed_logins_work(tmp_path: Path) -> None:
    async with kefu_demo(tmp_path) as demo:
        kefu, shop_url, output = demo["kefu"], demo["shop"], demo["output"]
        assert "agent@kefu.demo" in output and "kefu-agent" in output
        async with aiohttp.ClientSession() as http:
            async with http.post(
                kefu + "/api/v1/auth/login",
                json={"email": "agent@kefu.demo", "password": "kefu-agent"},
            ) as resp:
                assert resp.status == 200
                token = (await resp.json())["token"]
            async with http.get(
                kefu + "/api/v1/canned-replies",
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                assert {c["shortcut"] for c in await resp.json()} >= {"hello", "refund"}
            # The sample shop runs on another port (another origin), with the widget on it.
            assert shop_url != kefu, output
            assert f"{kefu}/console" in output
            async with http.get(shop_url + "/") as resp:
                page = await resp.text()
                assert resp.status == 200
                assert f'src="{kefu}/widget.js" data-kefu-site="demo-shop"' in page
            async with http.get(kefu + "/widget.js") as resp:
                assert resp.status == 200 and "attachShadow" in await resp.text()
            # kefu answers CORS for the shop's origin: the demo registered it as a site.
            async with http.post(
                kefu + "/api/v1/visitors",
                json={"site": "demo-shop"},
                headers={"Origin": shop_url},
            ) as resp:
                assert resp.status == 201
                assert resp.headers["Access-Control-Allow-Origin"] == shop_url
            # The customer 360 answers from the simulated CRM, orders DB and call center. A
            # first 360 on a cold, busy host may pass its deadline ("timeout"); the fetches
            # run on and fill the cache, so asking again is what an agent's reload does.
            statuses: dict[str, str] = {}
            for _ in range(30):
                async with http.get(
                    kefu + "/api/v1/customers/C1001/360",
                    headers={"Authorization": f"Bearer {token}"},
                ) as resp:
                    assert resp.status == 200
                    body = await resp.json()
                statuses = {name: s["status"] for name, s in body["sources"].items()}
                if "timeout" not in statuses.values():
                    break
                await asyncio.sleep(0.5)  # poll interval only: the loop waits on the answer
            assert statuses == {"crm": "ok", "orders": "ok", "callcenter": "ok", "tickets": "ok"}
            assert body["customer"]["name"] and body["orders"] and body["calls"]
            # The printed event examples work: the complaint rule makes a high-priority ticket.
            curl = re.search(r"Bearer (kefu_[A-Za-z0-9_\-]+)", output)
            assert curl is not None, output
            async with http.post(
                kefu + "/api/v1/events",
                headers={"Authorization": f"Bearer {curl[1]}"},
                json={
                    "type": "customer.complaint",
                    "customer_key": "C1001",
                    "data": {"summary": "parcel lost"},
                },
            ) as resp:
                assert resp.status == 202
            async with http.post(
                kefu + "/api/v1/auth/login",
                json={"email": "supervisor@kefu.demo", "password": "kefu-super"},
            ) as resp:
                boss = await resp.json()
            for _ in range(100):
                async with http.get(
                    kefu + "/api/v1/tickets?customer_key=C1001",
                    headers={"Authorization": f"Bearer {boss['token']}"},
                ) as resp:
                    items = (await resp.json())["items"]
                if items:
                    break
                await asyncio.sleep(0.1)
            assert [(t["subject"], t["priority"], t["assignee_id"]) for t in items] == [
                ("Complaint: parcel lost", "high", boss["agent"]["id"])
            ]
            # /account is a signed-in customer: the widget tag carries the signed key.
            async with http.get(shop_url + "/account") as resp:
                page = await resp.text()
            signature = re.search(r'data-kefu-signature="([0-9a-f]{64})"', page)
            assert 'data-kefu-external-id="C1001"' in page and signature is not None
            async with http.post(
                kefu + "/api/v1/visitors",
                json={"site": "demo-shop", "external_id": "C1001", "signature": signature[1]},
                headers={"Origin": shop_url},
            ) as resp:
                assert resp.status == 201
