"""The WebSocket handshake's token, read from the raw query string as ``request.query``
reads it (percent-decoding, ``+`` as a space, the first of several), without leaving a
parsed multidict on the request for the socket's whole life."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from kefu.chat.gateway import query_token


@pytest.mark.parametrize(
    "target",
    [
        "/ws?token=abc.DEF-_123",
        "/ws?token=a%2Bb%20c+d",
        "/ws?x=1&token=first&token=second",
        "/ws?token=",
        "/ws?token",
        "/ws?tok=1",
        "/ws",
        "/ws?token=%E5%AE%A2%E6%9C%8D",
    ],
)
def test_reads_what_request_query_reads(target: str) -> None:
    request = make_mocked_request("GET", target)
    assert query_token(request) == request.query.get("token")


def test_first_of_several_and_decoded() -> None:
    assert query_token(make_mocked_request("GET", "/ws?token=a%2Bb+c&token=z")) == "a+b c"
