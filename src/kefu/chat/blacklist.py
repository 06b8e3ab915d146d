"""IP blacklist check, held in memory and refreshed whenever an admin edits the list."""

from __future__ import annotations

import ipaddress

from kefu.errors import BadInput
from kefu.store.blacklist import BlacklistRepository

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(value: str) -> Network:
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise BadInput(
            f"{value!r} is not an IP address or CIDR network", code="invalid_network"
        ) from None


class Blacklist:
    def __init__(self, repo: BlacklistRepository) -> None:
        self._repo = repo
        self._networks: list[Network] = []

    async def refresh(self) -> None:
        self._networks = [parse_network(entry.network) for entry in await self._repo.list()]

    def blocks(self, ip: str | None) -> bool:
        if not ip or not self._networks:
            return False
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self._networks)
