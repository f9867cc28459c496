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
PUBLIC_ONLY = "un webhook ne vise que des adresses publiques, sauf celles que l'administrateur autorise"

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
    """Why the guard refuses this address, in French for the person who gave the URL (« une adresse
    privée, d'un réseau local »), or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return forbidden_reason(address.ipv4_mapped)
        embedded = address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return forbidden_reason(embedded) or "une adresse de transition IPv6 (6to4, Teredo)"
    if address in METADATA:
        return "l'adresse des métadonnées d'un hébergeur cloud"
    if address.is_loopback:
        return "une adresse de bouclage, celle de la machine elle-même"
    if address.is_link_local:
        return "une adresse de lien local"
    if address.is_multicast:
        return "une adresse de multidiffusion"
    if address.is_unspecified:
        return "une adresse non spécifiée"
    if address.is_private:
        return "une adresse privée, d'un réseau local"
    if address.is_reserved:
        return "une adresse réservée"
    if not address.is_global:
        return "une adresse non publique"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (IPv4 and IPv6), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for *_, sockaddr in infos:
        if sockaddr[0] not in seen:
            seen.append(sockaddr[0])
    return seen


def _unresolved(host: str, exc: BaseException) -> str:
    """Why `host` has no address, in French (the resolver's own words are English)."""
    if isinstance(exc, UnicodeError):
        return f"{host} n'est pas un nom d'hôte valide"
    if isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN:
        return f"le nom {host} n'a pas pu être résolu : le serveur DNS ne répond pas, réessayez plus tard"
    if isinstance(exc, socket.gaierror) and exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)):
        return f"le nom {host} est introuvable dans le DNS"
    return f"le nom {host} n'a pas pu être résolu (erreur système : {exc})"


def check_url(url: str, allow: AllowList = AllowList(), resolve: Resolver = system_resolver) -> Target:
    """Parse and resolve `url`; the Target's addresses are the permitted ones. UnsafeURL otherwise, its reason
    in French: it reaches the person who gave the URL as it is."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        # urllib's message is English and technical: a wrong port or unbalanced IPv6 brackets.
        raise UnsafeURL(url, "l'URL est mal formée (port ou adresse IPv6 entre crochets invalide)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL(url, "seules les URL http et https sont acceptées")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL(url, "une URL qui contient un identifiant ou un mot de passe n'est pas acceptée")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL(url, "l'URL ne nomme aucun hôte")
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
            raise UnsafeURL(url, _unresolved(host, exc)) from None
        if not resolved:
            raise UnsafeURL(url, f"le nom {host} n'a aucune adresse")
    permitted, reasons = [], []
    for text in resolved:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        reason = forbidden_reason(address)
        if reason is None or allow.allows(host, address):
            permitted.append(str(address))
        else:
            reasons.append((address, reason))
    if not permitted:
        if literal is not None:
            raise UnsafeURL(url, f"l'adresse {reasons[0][0]} est refusée : c'est {reasons[0][1]} ; {PUBLIC_ONLY}")
        each = " ; ".join(f"{address} est {reason}" for address, reason in reasons)
        raise UnsafeURL(url, f"le nom {host} ne désigne que des adresses refusées : {each} ; {PUBLIC_ONLY}")
    return Target(scheme, host, port, path, tuple(permitted))
