"""Downloads from addresses someone else chose: Apiframe's result URLs, members' attachments.

Only public internet addresses are fetched. Loopback, private, link-local, multicast and the
other special ranges are refused after DNS resolution, inside the connector's resolver, so an
answer cannot change between the check and the connection; redirects are followed by hand and
every hop goes through the same check. Two exceptions, both named by the operator: the exact
host and port of a configured base URL (a sandbox or a Discord stand-in), and the networks in
DOWNLOAD_ALLOW_NETWORKS.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Self

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
DEFAULT_TIMEOUTS = aiohttp.ClientTimeout(total=60, sock_connect=10)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# NAT64 (RFC 6052) carries an IPv4 address in its last 32 bits; check that one too.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DownloadError(Exception):
    """A download could not be made; the message is a plain sentence, safe to log."""


class DownloadRefused(DownloadError):
    """The URL (or one it redirects to) is not http(s), or points at an address not allowed."""


class DownloadTooLarge(DownloadError):
    """The answer is over the size cap."""


class AddressRefused(OSError):
    """Raised inside the connector: aiohttp wraps it in a ClientConnectorError."""


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse_address(text: str) -> IPAddress | None:
    """`text` as an IP address (brackets and an IPv6 zone allowed), or None."""
    try:
        return ipaddress.ip_address(text.strip("[]").partition("%")[0])
    except ValueError:
        return None


def looks_numeric(host: str) -> bool:
    """What aiohttp takes for an address rather than a name (it skips the resolver for it)."""
    return ":" in host or host.replace(".", "").isdigit()


def _endpoint(host: str, port: int | None) -> tuple[str, int | None]:
    return (host.strip("[]").rstrip(".").lower(), port)


@dataclass(frozen=True, slots=True)
class DownloadPolicy:
    """Which addresses a download may reach: public ones, plus the operator's exceptions."""

    allow_networks: tuple[IPNetwork, ...] = ()
    allow_endpoints: frozenset[tuple[str, int | None]] = field(default_factory=frozenset)

    @classmethod
    def build(cls, base_urls: Iterable[str | None] = (), networks: Iterable[str] = ()) -> Self:
        """Allow each base URL's own host and port, and each network (`10.0.0.0/8`, `::1`)."""
        endpoints = set()
        for base in base_urls:
            if base:
                url = URL(base)
                if url.raw_host:
                    endpoints.add(_endpoint(url.raw_host, url.port))
        return cls(
            tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks if n.strip()),
            frozenset(endpoints),
        )

    def refusal(self, address: IPAddress | str) -> str | None:
        """Why `address` may not be fetched from, or None when it may."""
        ip = parse_address(address) if isinstance(address, str) else address
        if ip is None:
            return "is not an IP address"
        if any(ip.version == net.version and ip in net for net in self.allow_networks):
            return None
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = self.refusal(inner)
            return f"carries {inner}, which {reason}" if reason else None
        if ip.is_multicast:
            return "is a multicast address"
        if ip.is_loopback:
            return "is a loopback address"
        if ip.is_link_local:
            return "is a link-local address"
        if ip.is_unspecified:
            return "is the unspecified address"
        if not ip.is_global:
            return "is a private or reserved address"
        return None

    def allows_endpoint(self, host: str, port: int | None) -> bool:
        return _endpoint(host, port) in self.allow_endpoints

    def check_url(self, url: URL) -> None:
        """Refuse a URL that is not http(s), or names an address literal not allowed (those
        never reach the resolver; names are checked there, once resolved)."""
        if url.scheme not in ("http", "https") or not url.raw_host:
            raise DownloadRefused("The URL is not an http(s) URL")
        host = url.raw_host
        if self.allows_endpoint(host, url.port) or not looks_numeric(host):
            return
        reason = self.refusal(host)
        if reason:
            raise DownloadRefused(f"The URL's host {host} {reason}")


class GuardedResolver(AbstractResolver):
    """The default resolver, refusing a name when any of its addresses is not allowed (a
    name that also answers with a private address is how DNS rebinding starts)."""

    def __init__(self, policy: DownloadPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._inner = inner or aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self.policy.allows_endpoint(host, port):
            return results
        for result in results:
            reason = self.policy.refusal(result["host"])
            if reason:
                raise AddressRefused(f"{host} resolves to {result['host']}, which {reason}")
        return results

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True, slots=True)
class Fetched:
    """The last answer: its body (read only for a 200), status, headers and final URL."""

    status: int
    data: bytes
    content_type: str | None
    headers: Any
    url: URL


def _refused(exc: BaseException) -> AddressRefused | None:
    while exc is not None:
        if isinstance(exc, AddressRefused):
            return exc
        if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(
            exc.os_error, AddressRefused
        ):
            return exc.os_error
        exc = exc.__cause__  # type: ignore[assignment]
    return None


class Downloader:
    """GETs through one guarded session (opened at first use), redirects followed by hand."""

    def __init__(self, policy: DownloadPolicy, *, headers: dict[str, str] | None = None) -> None:
        self.policy = policy
        self._headers = headers or {}
        self._session: aiohttp.ClientSession | None = None
        self._resolver: GuardedResolver | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._resolver = GuardedResolver(self.policy)
            connector = aiohttp.TCPConnector(resolver=self._resolver)
            # No proxy from the environment: it would connect on our behalf, past the check.
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self._headers, trust_env=False
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        if self._resolver is not None:  # a resolver handed to a connector stays ours to close
            await self._resolver.close()
            self._resolver = None

    async def get(
        self,
        url: URL | str,
        *,
        cap: int,
        timeouts: aiohttp.ClientTimeout = DEFAULT_TIMEOUTS,
        headers_for: Callable[[URL], dict[str, str]] | None = None,
    ) -> Fetched:
        """GET `url`; each hop is checked and gets its own headers from `headers_for` (a key
        for one origin only). The body is streamed and refused past `cap` bytes. Raises
        `DownloadError`s, and aiohttp's own errors for a network failure (worth a retry)."""
        try:
            url = URL(url)
        except (TypeError, ValueError):
            raise DownloadRefused("The URL is not a readable URL") from None
        for _ in range(MAX_REDIRECTS + 1):
            try:
                self.policy.check_url(url)
            except DownloadRefused as exc:
                log.warning("download refused: %s", exc)
                raise
            try:
                answer = await self._get_once(url, cap, timeouts, headers_for)
            except aiohttp.ClientError as exc:
                refused = _refused(exc)
                if refused is None:
                    raise
                log.warning("download refused: %s", refused)
                raise DownloadRefused(f"The URL's host {refused}") from None
            if isinstance(answer, Fetched):
                return answer
            url = answer  # a redirect: the next hop is checked like the first
        raise DownloadError(f"The URL redirected more than {MAX_REDIRECTS} times")

    async def _get_once(
        self,
        url: URL,
        cap: int,
        timeouts: aiohttp.ClientTimeout,
        headers_for: Callable[[URL], dict[str, str]] | None,
    ) -> Fetched | URL:
        """One request: the answer, or where it redirects to."""
        headers = headers_for(url) if headers_for else {}
        get = self.session.get(url, headers=headers, allow_redirects=False, timeout=timeouts)
        async with get as response:
            location = response.headers.get("Location")
            if response.status in REDIRECTS and location:
                try:
                    return url.join(URL(location))
                except ValueError:
                    raise DownloadRefused("The URL redirects to an unreadable URL") from None
            if response.status != 200:
                return Fetched(response.status, b"", None, response.headers, url)
            if response.content_length is not None and response.content_length > cap:
                raise DownloadTooLarge(
                    f"The answer is {response.content_length} bytes; the cap is {cap}"
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(CHUNK):
                size += len(chunk)
                if size > cap:
                    raise DownloadTooLarge(f"The answer is over {cap} bytes")
                chunks.append(chunk)
            return Fetched(200, b"".join(chunks), response.content_type, response.headers, url)
