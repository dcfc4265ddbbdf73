"""Safe webhook destinations (SSRF). In production an endpoint must be ``https`` and every
address its host resolves to must be a public one: not loopback, private, link-local
(which holds the cloud metadata service, 169.254.169.254), shared, multicast or reserved.
Development also allows loopback, for a receiver on the same machine. The check runs when
an endpoint is created and again before each delivery, and the delivery then connects to
the address that was checked (no second lookup for DNS rebinding to exploit)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from webhooks.errors import UnsafeDestination

MAX_URL_LENGTH = 2048
# Metadata services outside link-local space (AWS IPv6, Alibaba Cloud's is link-local).
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("fd00:ec2::254")})

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Destination:
    url: str
    scheme: str
    host: str
    port: int
    path: str


def parse_destination(url: str, *, production: bool) -> Destination:
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeDestination(f"a URL is at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeDestination("not a valid URL") from error
    allowed = ("https",) if production else ("https", "http")
    if parts.scheme not in allowed:
        raise UnsafeDestination(f"the scheme must be {' or '.join(allowed)}")
    if not parts.hostname:
        raise UnsafeDestination("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeDestination("credentials in the URL are not allowed")
    if parts.fragment:
        raise UnsafeDestination("a fragment is not allowed")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    default = 443 if parts.scheme == "https" else 80
    return Destination(url, parts.scheme, parts.hostname, port or default, path)


# The 6to4 relays' anycast block (RFC 7526 deprecated it): never a partner's receiver.
SIX_TO_FOUR_RELAYS = ipaddress.ip_network("192.88.99.0/24")


def address_allowed(address: Address, *, production: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.sixtofour is not None:  # 2002::/16 carries an IPv4 address: judge it
            return address_allowed(address.sixtofour, production=production) and not (
                address.sixtofour.is_loopback
            )
        elif address.is_site_local:  # fec0::/10, deprecated but still routed on some hosts
            return False
    if address in METADATA_ADDRESSES or address in SIX_TO_FOUR_RELAYS:
        return False
    if address.is_loopback:
        return not production
    return address.is_global and not (address.is_multicast or address.is_reserved)


async def resolve_destination(destination: Destination, *, production: bool) -> Address:
    """The address to connect to: every address the host resolves to must be allowed (a
    host with one private address among public ones is refused), and the first is used."""
    try:
        literal: Address | None = ipaddress.ip_address(destination.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[Address] = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                destination.host, destination.port, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as error:
            raise UnsafeDestination("the host does not resolve") from error
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise UnsafeDestination("the host does not resolve")
    for address in addresses:
        if not address_allowed(address, production=production):
            raise UnsafeDestination("the host resolves to a non-public address")
    return addresses[0]


async def check_destination(url: str, *, production: bool) -> Destination:
    destination = parse_destination(url, production=production)
    await resolve_destination(destination, production=production)
    return destination
