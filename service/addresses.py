"""Client addresses as the per-address limits and caps count them.

An IPv4 client is one address. An IPv6 subscriber is handed a whole network (a /64, often a
/56 or /48), so each of its 2^64 addresses would otherwise get a budget of its own: IPv6
clients are keyed by their network, ``CALLGATE_IPV6_PREFIX`` bits long.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

# One /64 is one subscriber (CALLGATE_IPV6_PREFIX's default).
DEFAULT_IPV6_PREFIX = 64


@lru_cache(maxsize=4096)
def address_key(address: str, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str:
    """``203.0.113.7`` as is; ``2001:db8:1:2:aaaa::1`` as ``2001:db8:1:2::/64``.

    An IPv4-mapped IPv6 address counts as its IPv4 address. Anything that is not an address
    (no socket address at all) is returned unchanged, so it still has one budget.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))
    return str(ip)
