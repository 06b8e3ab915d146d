"""Requests refused by aiohttp's HTTP parser still get the contract's JSON, and the log
never quotes them.

Lines up to the parser's own limits are refused by kefu's middleware (JSON 414 / 431,
tests/integration/test_error_contract.py); these go past them (a 100 KiB URL, a 40 KiB
header) or are not HTTP at all, so only the parser sees them. Run as operators run it:
``kefu serve`` in a subprocess, spoken to over a raw socket (an HTTP client would refuse
to send such requests).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kefu.server import PARSER_FIELD_BYTES, PARSER_LINE_BYTES
from tests.support.cli import clean_env, kefu_serve

SECRET_KEY = "C1001-13800001001"


async def raw_request(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as is; the status, headers and body of the answer."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(30):  # a hang guard, not a timing assertion
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {
                name.lower(): value
                for name, _, value in (line.partition(": ") for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers["content-length"]))
    finally:
        writer.close()
    return status, headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        pytest.param(
            b"GET /api/v1/customers/"
            + SECRET_KEY.encode()
            + b"/360?pad="
            + b"x" * (PARSER_LINE_BYTES + 1)
            + b" HTTP/1.1\r\nHost: kefu\r\n\r\n",
            414,
            "uri_too_long",
            id="url-past-the-parser",
        ),
        pytest.param(
            b"GET /healthz HTTP/1.1\r\nHost: kefu\r\nX-Customer: "
            + SECRET_KEY.encode()
            + b"y" * (PARSER_FIELD_BYTES + 1)
            + b"\r\n\r\n",
            431,
            "headers_too_large",
            id="header-past-the-parser",
        ),
        pytest.param(
            b"\x16\x03\x01" + SECRET_KEY.encode() + b"\r\n\r\n",
            400,
            "bad_request",
            id="not-http",
        ),
    ],
)
async def test_a_request_the_parser_refuses_gets_json_and_is_not_logged(
    tmp_path: Path, request_bytes: bytes, status: int, code: str
) -> None:
    env = clean_env(KEFU_DATA_DIR=str(tmp_path / "data"), KEFU_LOG_LEVEL="info")
    async with kefu_serve(env) as (url, stderr):
        got, headers, body = await raw_request(url, request_bytes)
        # The node still serves after the refusal.
        healthy, _, _ = await raw_request(url, b"GET /healthz HTTP/1.1\r\nHost: kefu\r\n\r\n")

    assert got == status
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == code
    assert SECRET_KEY.encode() not in body
    assert healthy == 200
    logged = "\n".join(stderr)
    assert SECRET_KEY not in logged
    assert "Traceback" not in logged
    assert f"refused an HTTP request before routing: {status}" in logged
