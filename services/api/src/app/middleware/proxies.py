"""Who the client is and how it connected, believing X-Forwarded-* only from trusted proxies."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.datastructures import Headers
from starlette.types import Scope

IPNetwork = IPv4Network | IPv6Network
IPAddress = IPv4Address | IPv6Address


def _parse_address(text: str) -> IPAddress | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


class TrustedProxies:
    """Resolves a request's client address and scheme behind zero or more reverse proxies."""

    def __init__(self, networks: Sequence[IPNetwork]) -> None:
        self._networks = tuple(networks)

    def is_trusted(self, address: IPAddress | None) -> bool:
        """True when the address belongs to a configured proxy."""
        return address is not None and any(address in network for network in self._networks)

    def _peer(self, scope: Scope) -> tuple[str, IPAddress | None]:
        client = scope.get("client")
        host = str(client[0]) if client else "unknown"
        return host, _parse_address(host)

    def client_ip(self, scope: Scope) -> str:
        """The peer address, or the right-most untrusted X-Forwarded-For hop behind a proxy.

        Each proxy appends the address it saw, so hops left of the last untrusted one were
        written by the client and prove nothing.
        """
        host, peer = self._peer(scope)
        if not self.is_trusted(peer):
            return host
        forwarded = Headers(scope=scope).getlist("x-forwarded-for")
        hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
        closest = host
        for hop in reversed(hops):
            address = _parse_address(hop)
            if address is None:
                # A proxy we trust wrote something that is not an address: stop at that proxy.
                return closest
            if not self.is_trusted(address):
                return str(address)
            closest = str(address)
        return closest

    def is_https(self, scope: Scope) -> bool:
        """True when the client connected over TLS, directly or to a trusted proxy."""
        if scope.get("scheme") in {"https", "wss"}:
            return True
        _, peer = self._peer(scope)
        if not self.is_trusted(peer):
            return False
        proto = Headers(scope=scope).get("x-forwarded-proto", "")
        # The left-most value is what the first proxy saw from the client.
        return proto.split(",", 1)[0].strip().lower() == "https"
