"""The client's address behind reverse proxies, trusting ``X-Forwarded-For`` only from
proxies the operator listed (``trusted_proxies``). Anyone can send the header; believing
it from an untrusted peer would let a client dodge the blacklist and rate limits.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddress:
    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self._trusted: list[Network] = [
            ipaddress.ip_network(proxy, strict=False) for proxy in trusted_proxies
        ]

    def resolve(self, peer: str | None, forwarded_for: str | None) -> str:
        """Walk the chain from the nearest hop outwards; the first untrusted hop is the client."""
        address = peer or "unknown"
        if not self._trusted or not forwarded_for or not self._is_trusted(address):
            return address
        for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
            address = hop
            if not self._is_trusted(hop):
                break
        return address

    def of(self, request: web.BaseRequest) -> str:
        """The client of an aiohttp request (the WebSocket and the native routes)."""
        forwarded = ",".join(request.headers.getall("X-Forwarded-For", []))
        return self.resolve(request.remote, forwarded)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)
