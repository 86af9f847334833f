"""Where outbound webhooks may go: never to the service's own network (docs/decisions/0028).

A case system chooses its endpoint URL, so without these rules an API key could make the worker
post to loopback services, cloud metadata (169.254.169.254) or the court's intranet and read the
answers back from the delivery list. The rules are checked three times: on the URL when it is
registered and again before each delivery (:func:`url_refusal`), on every address a host name
resolves to (:class:`GuardedResolver`: the connection uses exactly the checked addresses, so a
DNS answer that changes between check and connect cannot win), and on the address of every
socket about to connect (:func:`webhook_session`'s socket factory).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Rule codes, shown to the integrator with a 422 at registration.
RULE_URL = "absolute-url"
RULE_HTTPS = "https-required"
RULE_CREDENTIALS = "no-credentials"
RULE_HOST = "host-syntax"
RULE_LOCALHOST = "no-localhost"
RULE_ADDRESS = "forbidden-address"
URL_RULES = (RULE_URL, RULE_HTTPS, RULE_CREDENTIALS, RULE_HOST, RULE_LOCALHOST, RULE_ADDRESS)
PRIVATE = "private"

# Address ranges a host name on the allow-list may resolve to (an intranet case system);
# loopback, link-local and the rest need the operator to allow-list the network itself.
PRIVATE_USE: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT
NAT64_PREFIXES = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
HOST_NAME_RE = re.compile(
    r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*"
)


@dataclass(frozen=True)
class Refusal:
    """Why a URL or address is not a webhook target: a stable rule code and a sentence."""

    rule: str
    message: str


@dataclass(frozen=True)
class TargetPolicy:
    """The operator's rules: plain http allowed or not, and what is allowed despite the ranges
    (``allowed_networks``: any address in them; ``allowed_hosts``: these names may resolve to
    private-use addresses, for an intranet case system)."""

    allow_http: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_hosts: frozenset[str] = frozenset()

    def address_refusal(
        self, address: IPAddress, host: str | None = None, *, private_ok: bool = False
    ) -> Refusal | None:
        """Why connecting to ``address`` (reached through the name ``host``) is refused."""
        candidates = [*_embedded_ipv4(address), address]
        if any(a in network for a in candidates for network in self.allowed_networks):
            return None
        private_ok = private_ok or (host is not None and host in self.allowed_hosts)
        for candidate in candidates:
            category = forbidden_category(candidate)
            if category is None or (category == PRIVATE and private_ok):
                continue
            return Refusal(RULE_ADDRESS, f"{address} is not allowed ({category})")
        return None

    def connect_refusal(self, address: IPAddress) -> Refusal | None:
        """The check on a socket about to connect, which no longer knows the host name: an
        allow-listed name's private-use addresses pass here (the resolver checked them)."""
        return self.address_refusal(address, private_ok=bool(self.allowed_hosts))


def parse_allow_list(
    entries: Iterable[str],
) -> tuple[tuple[IPNetwork, ...], frozenset[str], list[str]]:
    """(networks, host names, entries that are neither) from the operator's setting."""
    networks: list[IPNetwork] = []
    hosts: set[str] = set()
    bad: list[str] = []
    for entry in (e.strip().lower() for e in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        name = entry.rstrip(".")
        if HOST_NAME_RE.fullmatch(name) and not _ends_in_number(name):
            hosts.add(name)
        else:
            bad.append(entry)
    return tuple(networks), frozenset(hosts), bad


def forbidden_category(address: IPAddress) -> str | None:
    """The kind of non-public address this is, or None for a public unicast address."""
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if any(address in network for network in PRIVATE_USE) or address in SHARED_ADDRESS_SPACE:
        return PRIVATE
    if not address.is_global:
        return "reserved"
    return None


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64, compatible), which
    is where a packet to it may end up."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    embedded = [
        address.ipv4_mapped,
        address.sixtofour,
        address.teredo[1] if address.teredo else None,
    ]
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in prefix for prefix in NAT64_PREFIXES) or int(address) >> 32 == 0:
        embedded.append(low32)
    return [a for a in embedded if a is not None]


def url_refusal(url: str, policy: TargetPolicy) -> Refusal | None:
    """Why ``url`` may not be a webhook endpoint, or None. Parsed with yarl, as aiohttp parses it
    when it posts, so the host checked is the host connected to."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return Refusal(RULE_URL, "must be an absolute https URL")
    if parsed.scheme not in ("http", "https") or not parsed.raw_host or not parsed.is_absolute():
        return Refusal(RULE_URL, "must be an absolute https URL")
    if parsed.scheme == "http" and not policy.allow_http:
        return Refusal(RULE_HTTPS, "must use https")
    if parsed.raw_user or parsed.raw_password or "@" in parsed.raw_authority:
        return Refusal(RULE_CREDENTIALS, "must not carry a user name or password")
    host = parsed.raw_host.lower()
    if ":" in host:  # an IPv6 literal
        try:
            return policy.address_refusal(ipaddress.IPv6Address(host))
        except ValueError:
            return Refusal(RULE_HOST, "is not a valid IPv6 address (zone ids are not allowed)")
    host = host.removesuffix(".")
    if not HOST_NAME_RE.fullmatch(host):
        return Refusal(RULE_HOST, "the host must be a DNS name or an IP address")
    try:
        literal = _ipv4_literal(host)
    except ValueError:
        return Refusal(RULE_HOST, "the host looks like an IPv4 address but is not one")
    if literal is not None:
        return policy.address_refusal(literal)
    if host == "localhost" or host.endswith(".localhost"):
        return Refusal(RULE_LOCALHOST, "must not be localhost")
    return None


def _ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """The address of a host in any IPv4 form a resolver or browser accepts (``2130706433``,
    ``0177.0.0.1``, ``0x7f.1``, ``127.1``; the WHATWG URL rules), None for a name; ValueError
    for a host that ends in a number but is no address."""
    if not _ends_in_number(host):
        return None
    parts = host.split(".")
    if len(parts) > 4:
        raise ValueError(host)
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        raise ValueError(host)
    *head, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        raise ValueError(host)
    value = last + sum(n << (8 * (3 - i)) for i, n in enumerate(head))
    return ipaddress.IPv4Address(value)


def _ends_in_number(host: str) -> bool:
    """A host the URL rules read as an IPv4 address (or refuse as a broken one), not a name."""
    return _ipv4_number(host.split(".")[-1]) is not None


def _ipv4_number(part: str) -> int | None:
    digits, base, allowed = part, 10, string.digits
    if part[:2] in ("0x", "0X"):
        digits, base, allowed = part[2:], 16, string.hexdigits
    elif len(part) > 1 and part.startswith("0"):
        digits, base, allowed = part[1:], 8, string.octdigits
    if not part or any(c not in allowed for c in digits):
        return None
    return int(digits, base) if digits else 0


class AddressRefused(OSError):
    """Raised instead of connecting to a forbidden address; the delivery says "refused"."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class GuardedResolver(AbstractResolver):
    """Resolves with ``inner`` and refuses the host when ANY of its addresses is forbidden.
    aiohttp connects to the addresses returned here (and caches exactly these), so the answer
    checked is the answer used: a rebinding DNS server gets no second lookup."""

    def __init__(self, policy: TargetPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        name = host.lower().removesuffix(".")
        for result in results:
            refusal = self.policy.address_refusal(ipaddress.ip_address(result["host"]), name)
            if refusal is not None:
                raise AddressRefused(refusal)
        return results

    async def close(self) -> None:
        await self.inner.close()


def webhook_session(
    policy: TargetPolicy, timeout: aiohttp.ClientTimeout, resolver: AbstractResolver | None = None
) -> aiohttp.ClientSession:
    """The only HTTP client webhooks are posted with: guarded resolver, a socket factory that
    refuses a forbidden address whatever produced it, no proxy from the environment."""

    def guarded_socket(addr_info: Any) -> socket.socket:
        family, kind, proto, _canonical, sockaddr = addr_info
        refusal = policy.connect_refusal(ipaddress.ip_address(sockaddr[0]))
        if refusal is not None:
            raise AddressRefused(refusal)
        return socket.socket(family, kind, proto)

    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(policy, resolver), socket_factory=guarded_socket
    )
    return aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False)
