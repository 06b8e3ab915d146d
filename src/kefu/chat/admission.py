"""How many WebSockets one principal, and one client address, may hold open on a node.

Without a bound one visitor token (minted without credentials) or one machine could open
sockets until the node's memory or file descriptors run out. A socket over a cap is
refused with close code 4429 (docs/protocol.md). Counts are per node: behind a load
balancer a client reaches several nodes, each enforcing the caps on what it holds.

The check and the count happen together, with no ``await`` between them and the socket's
registration, so two handshakes racing on one event loop cannot both take the last slot.
"""

from __future__ import annotations

from kefu.auth.principal import Principal


class SocketLimits:
    def __init__(self, per_principal: int, visitors_per_ip: int) -> None:
        self._per_principal = per_principal
        self._visitors_per_ip = visitors_per_ip
        self._by_principal: dict[str, int] = {}
        self._visitors_by_ip: dict[str, int] = {}

    def admit(self, principal: Principal, ip: str) -> str | None:
        """Count a new socket and return None, or return why it may not open (and count
        nothing). Agents are not counted per address: they signed in with a password, and
        a whole office of them may share one NAT address; their per-principal cap holds."""
        held = self._by_principal.get(principal.key, 0)
        if held >= self._per_principal:
            return f"at most {self._per_principal} sockets per token are open already"
        visitor = not principal.is_agent
        if visitor and self._visitors_by_ip.get(ip, 0) >= self._visitors_per_ip:
            return f"at most {self._visitors_per_ip} visitor sockets per address are open already"
        self._by_principal[principal.key] = held + 1
        if visitor:
            self._visitors_by_ip[ip] = self._visitors_by_ip.get(ip, 0) + 1
        return None

    def release(self, principal: Principal, ip: str) -> None:
        """An admitted socket closed; counters at zero are dropped, so the maps only hold
        principals and addresses with sockets open."""
        _decrement(self._by_principal, principal.key)
        if not principal.is_agent:
            _decrement(self._visitors_by_ip, ip)


def _decrement(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
