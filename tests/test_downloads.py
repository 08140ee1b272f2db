"""The download policy: only public addresses, checked after DNS and on every redirect."""

from __future__ import annotations

import re
import socket

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer
from yarl import URL

from bot.apiframe import errors
from bot.apiframe.client import ApiframeClient
from bot.config import SettingsError, load_settings
from bot.downloads import (
    AddressRefused,
    Downloader,
    DownloadPolicy,
    DownloadRefused,
    GuardedResolver,
)
from bot.services import download_policy
from tests.apiframe.conftest import FAST_RETRY, KEY, Reply, Scripted, lan_client

PUBLIC = DownloadPolicy()

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "::1": "loopback",
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped
    "::ffff:10.1.2.3": "private",
    "2002:7f00:1::": "loopback",  # 6to4 around 127.0.0.1
    "64:ff9b::a9fe:a9fe": "link-local",  # NAT64 around 169.254.169.254
    "10.0.0.1": "private",
    "172.16.5.4": "private",
    "192.168.1.1": "private",
    "100.64.0.1": "private",  # carrier-grade NAT
    "fc00::1": "private",
    "169.254.169.254": "link-local",  # cloud metadata
    "fe80::1": "link-local",
    "fe80::1%eth0": "link-local",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "ff02::1": "multicast",
    "255.255.255.255": "reserved",
    "192.0.2.1": "reserved",  # documentation
}


@pytest.mark.parametrize(("address", "why"), REFUSED.items())
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    """Loopback, private, link-local, mapped, unspecified and multicast: each refused."""
    assert why in (PUBLIC.refusal(address) or "")


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "1.1.1.1"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert PUBLIC.refusal(address) is None


def test_allowed_networks_and_endpoints_are_the_only_exceptions() -> None:
    """DOWNLOAD_ALLOW_NETWORKS opens its networks; a base URL opens its own host and port."""
    policy = DownloadPolicy.build(["http://127.0.0.1:8081/v2"], ["10.0.0.0/8", "::1"])
    assert policy.refusal("10.9.8.7") is None
    assert policy.refusal("::1") is None
    assert policy.refusal("127.0.0.1") is not None  # only its port, through the endpoint
    assert policy.allows_endpoint("127.0.0.1", 8081)
    assert not policy.allows_endpoint("127.0.0.1", 8082)
    policy.check_url(URL("http://127.0.0.1:8081/cdn/a.png"))
    for url in ("http://127.0.0.1:8082/a.png", "http://[::ffff:127.0.0.1]:8081/", "file:///x"):
        with pytest.raises(DownloadRefused):
            policy.check_url(URL(url))


class Canned(AbstractResolver):
    """A resolver with fixed answers, standing for DNS."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {"hostname": host, "host": a, "port": port, "family": family, "proto": 0, "flags": 0}
            for a in self.answers[host]
        ]

    async def close(self) -> None:
        return None


async def test_the_resolver_refuses_a_name_with_any_non_public_address() -> None:
    """Checked on DNS's answer, inside the connector: a name answering with a private
    address as well as a public one (rebinding) is refused as a whole."""
    resolver = GuardedResolver(
        DownloadPolicy.build(["http://sandbox:8081"]),
        Canned(
            {
                "cdn.example": ["93.184.216.34", "2606:2800:220:1::1"],
                "evil.example": ["93.184.216.34", "10.0.0.5"],
                "meta.example": ["169.254.169.254"],
                "sandbox": ["172.18.0.2"],
            }
        ),
    )
    assert len(await resolver.resolve("cdn.example", 443)) == 2
    for host in ("evil.example", "meta.example"):
        with pytest.raises(AddressRefused, match=host):
            await resolver.resolve(host, 443)
    assert await resolver.resolve("sandbox", 8081)  # the configured base URL's host and port
    with pytest.raises(AddressRefused):
        await resolver.resolve("sandbox", 22)


async def _server(replies: list[Reply], host: str = "127.0.0.1") -> tuple[Scripted, TestServer]:
    script = Scripted(replies=replies)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", script.handle)
    server = TestServer(app, host=host)
    await server.start_server()
    script.url = str(server.make_url("")).rstrip("/")
    return script, server


async def test_a_name_resolving_to_loopback_is_refused_before_connecting() -> None:
    """`localhost` resolves to loopback: the real resolver's answer is refused, and the
    server behind it never sees a request."""
    target, server = await _server([Reply(200, raw=b"img")], host="127.0.0.1")
    downloader = Downloader(DownloadPolicy())
    try:
        with pytest.raises(DownloadRefused, match="loopback"):
            await downloader.get(f"http://localhost:{server.port}/a.png", cap=1000)
        assert target.seen == []
    finally:
        await downloader.close()
        await server.close()


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f.1", "0177.0.0.1", "[::ffff:7f00:1]"])
async def test_odd_address_literals_are_refused(host: str) -> None:
    """Legacy numeric forms of 127.0.0.1 (refused as literals, or once resolved) never reach
    the server listening there."""
    target, server = await _server([Reply(200, raw=b"img")] * 5)
    downloader = Downloader(DownloadPolicy())
    try:
        with pytest.raises(DownloadRefused):
            await downloader.get(f"http://{host}:{server.port}/a.png", cap=1000)
        assert target.seen == []
    finally:
        await downloader.close()
        await server.close()


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/a.png",
        "http://localhost:{port}/a",
    ],
)
async def test_a_redirect_to_a_private_address_is_refused(location: str) -> None:
    """The API's own host may be fetched from (a sandbox); where it redirects is checked
    again, and a private or loopback hop is refused as a failed download (not retried)."""
    other, other_server = await _server([Reply(200, raw=b"secret")])
    api, api_server = await _server([])
    hop = location.format(port=other_server.port)
    api.replies = [Reply(302, headers={"Location": hop})] * 3
    try:
        # The default: loopback allowed only at the API's own host and port.
        async with ApiframeClient(KEY, api.url, retry=FAST_RETRY) as client:
            with pytest.raises(errors.DownloadRefused):
                await client.download(f"{api.url}/v2/results/a.png")
        assert len(api.seen) == 1  # refused, not retried
        assert other.seen == []
    finally:
        await api_server.close()
        await other_server.close()


async def test_download_allow_networks_lets_a_lan_sandbox_through() -> None:
    """With the network allowed, the same loopback result downloads."""
    image = Reply(200, raw=b"img", headers={"Content-Type": "image/png"})
    _, server = await _server([image])
    try:
        async with lan_client("https://api.apiframe.ai") as client:
            downloaded = await client.download(f"http://localhost:{server.port}/a.png")
        assert downloaded.data == b"img"
    finally:
        await server.close()


def test_settings_name_the_allowed_networks() -> None:
    """DOWNLOAD_ALLOW_NETWORKS is a comma-separated list of addresses or networks; a typo is
    one readable line, and the base URLs' own hosts are allowed without it."""
    settings = load_settings(
        _env_file=None,
        download_allow_networks="10.0.0.0/8, ::1",
        apiframe_base_url="http://127.0.0.1:8081",
        discord_api_base_url="http://127.0.0.1:9000/api/v10",
    )
    policy = download_policy(settings)
    assert policy.refusal("10.1.1.1") is None
    assert policy.allows_endpoint("127.0.0.1", 8081)
    assert policy.allows_endpoint("127.0.0.1", 9000)
    assert policy.refusal("192.168.0.1") is not None
    with pytest.raises(SettingsError, match=re.escape("DOWNLOAD_ALLOW_NETWORKS: '10.0.0/33'")):
        load_settings(_env_file=None, download_allow_networks="10.0.0/33")


def test_a_refused_result_is_explained_and_not_counted() -> None:
    """The member hears why in plain words; the admin detail names the host."""
    from bot.jobs.failures import from_exception

    failure = from_exception(errors.DownloadRefused("The URL's host 10.0.0.1 is private"))
    assert "not counted" in failure.member_message.render("en")
    assert "10.0.0.1" in failure.admin_detail
    assert "10.0.0.1" not in failure.member_message.render("en")
