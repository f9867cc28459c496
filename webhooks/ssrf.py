"""The SSRF guard: a webhook URL must be http(s) and reach only public addresses, unless allowed.

`check_url` resolves the host once and returns the addresses it checked; the delivery connects to
one of those addresses (never resolving again), so a DNS answer that changes between the check and
the connection (DNS rebinding) cannot lead to an internal address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from webhooks.errors import UnsafeURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Iterable[str]]

METADATA = {ipaddress.ip_address(a) for a in (
    "169.254.169.254",   # AWS, GCP, Azure, OpenStack instance metadata
    "fd00:ec2::254",     # AWS metadata over IPv6
    "100.100.100.200",   # Alibaba Cloud metadata
    "168.63.129.16",     # Azure wire server (a public address, so named here)
)}


@dataclass(frozen=True)
class AllowList:
    """Hosts, addresses and networks a webhook may reach although the guard would refuse them."""

    hosts: frozenset[str] = frozenset()
    """Host names as written in URLs (lower case, no trailing dot): every address they resolve to is allowed."""
    networks: tuple[IPNetwork, ...] = field(default_factory=tuple)
    """Addresses (as /32 or /128) and networks allowed whatever the host name."""

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """From "127.0.0.1, 10.0.0.0/8, hooks.internal"; ValueError naming a malformed entry."""
        hosts, networks = set(), []
        for entry in (part.strip() for part in (text or "").split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = entry.lower().rstrip(".")
            if not name or "/" in name or any(c.isspace() for c in name) or ":" in name:
                raise ValueError(f"not a host, an address or a network: {entry!r}")
            hosts.add(name)
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str, address: IPAddress) -> bool:
        return host in self.hosts or any(address in network for network in self.networks)


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (one of `addresses`) and what to send as Host and path."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def forbidden_reason(address: IPAddress) -> str | None:
    """Why the guard refuses this address, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return forbidden_reason(address.ipv4_mapped)
        embedded = address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return forbidden_reason(embedded) or "an IPv6 transition address (6to4, Teredo)"
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "a non-public address"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (IPv4 and IPv6), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for *_, sockaddr in infos:
        if sockaddr[0] not in seen:
            seen.append(sockaddr[0])
    return seen


def check_url(url: str, allow: AllowList = AllowList(), resolve: Resolver = system_resolver) -> Target:
    """Parse and resolve `url`; the Target's addresses are the permitted ones. UnsafeURL otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(url, f"malformed URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL(url, "only http and https URLs are delivered to")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL(url, "credentials in the URL are not accepted")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL(url, "the URL has no host")
    port = port or (443 if scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        resolved = [str(literal)]
    else:
        try:
            resolved = list(resolve(host, port))
        except (OSError, UnicodeError) as exc:
            raise UnsafeURL(url, f"the host {host} cannot be resolved ({exc})") from None
        if not resolved:
            raise UnsafeURL(url, f"the host {host} has no address")
    permitted, reasons = [], []
    for text in resolved:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        reason = forbidden_reason(address)
        if reason is None or allow.allows(host, address):
            permitted.append(str(address))
        else:
            reasons.append(f"{address} is {reason}")
    if not permitted:
        raise UnsafeURL(url, f"{host} resolves only to refused addresses ({'; '.join(reasons)})")
    return Target(scheme, host, port, path, tuple(permitted))
