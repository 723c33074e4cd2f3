"""The address a request came from, as the client's, even behind a reverse proxy.

Behind nginx every request arrives from the proxy's address; the client's is in
X-Forwarded-For, which anyone can also send. It is believed only when the request came
from a proxy Sala trusts (SALA_TRUSTED_PROXIES), and read from the right: the last
address that is not one of the trusted proxies is the one they saw.
"""

import functools
import ipaddress

from django.conf import settings
from django.http import HttpRequest

type Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _trusted(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _is_trusted(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in _trusted(tuple(settings.SALA_TRUSTED_PROXIES)))


def client_address(request: HttpRequest) -> str:
    """Return the client's address: REMOTE_ADDR, or the forwarded one from a trusted proxy."""
    address: str = request.META.get("REMOTE_ADDR", "")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not forwarded or not _is_trusted(address):
        return address
    hops: list[str] = [part.strip() for part in str(forwarded).split(",")]
    for hop in reversed(hops):
        if not _is_trusted(hop):
            return hop
    return address


def client_network(request: HttpRequest) -> str:
    """Return the client's address as a cap counts it: an IPv6 client by its /64."""
    return address_network(client_address(request))


def address_network(address: str) -> str:
    """Return `address` as a cap counts it: itself, or an IPv6 address's /64.

    One IPv6 home connection holds a whole /64, billions of addresses; counting each
    alone would let one client get around any per-address cap.
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)
