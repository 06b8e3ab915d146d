"""IP blacklist check, held in memory and refreshed whenever an admin edits the list.

Every request a visitor token makes is checked (REST routes, the attachment download, the
WebSocket at open and on each frame), not only the creation of a visitor: a token minted
before its address was blocked must stop working as soon as the block is in place.
"""

from __future__ import annotations

import ipaddress

from kefu.auth.principal import Principal
from kefu.errors import BadInput, Forbidden
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

    def check(self, principal: Principal, ip: str | None) -> None:
        """Refuse a visitor whose address is blocked (403 ``blocked``).

        Agents are never blocked by address: they authenticated with a password, and a
        supervisor blocking a visitor's network (an office NAT, say) must not lock the
        company's own staff out along with it.
        """
        if not principal.is_agent and self.blocks(ip):
            raise Forbidden("this address is blocked", code="blocked")
