"""MCP servers are called only on public addresses (unless an administrator allows private ranges
for a server), checked on the address each connection resolves to and connects to."""

from __future__ import annotations

import ipaddress

import anyio
import httpcore2
import pytest

from chatbot.tools import address_guard
from chatbot.tools.address_guard import AddressRefusedError, GuardedBackend, is_public
from chatbot.tools.mcp_client import McpServerConnection, ToolServerError, list_tools
from tests.chatbot.tools.mcp_calculator import running_calculator


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "::1",
        "fc00::1",
        "fe80::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "224.0.0.1",
    ],
)
def test_private_and_local_addresses_are_not_public(address: str):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are(address: str):
    assert is_public(ipaddress.ip_address(address))


def test_a_name_that_resolves_to_the_loopback_is_refused_unless_allowed():
    with running_calculator() as url:
        by_name = url.replace("127.0.0.1", "localhost")
        with pytest.raises(ToolServerError, match="resolves to .*private or local address"):
            anyio.run(list_tools, McpServerConnection(name="calc", url=by_name))
        allowed = McpServerConnection(name="calc", url=by_name, allow_private=True)
        assert {tool.name for tool in anyio.run(list_tools, allowed)} == {"add", "shout"}


class Recorder(httpcore2.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.hosts: list[str] = []

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.hosts.append(host)
        raise httpcore2.ConnectError("recorded")


def test_every_connection_is_checked_again_so_dns_rebinding_fails(monkeypatch: pytest.MonkeyPatch):
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])  # public first, then rebound to the loopback

    async def rebinding_resolver(host: str, port: int):
        return [ipaddress.ip_address(address) for address in next(answers)]

    monkeypatch.setattr(address_guard, "resolve", rebinding_resolver)
    backend = GuardedBackend(allow_private=False)
    backend._inner = recorder = Recorder()

    async def connect_twice() -> None:
        with pytest.raises(httpcore2.ConnectError):
            await backend.connect_tcp("rebind.test", 443)
        with pytest.raises(AddressRefusedError, match="rebind.test resolves to 127.0.0.1"):
            await backend.connect_tcp("rebind.test", 443)

    anyio.run(connect_twice)
    assert recorder.hosts == ["93.184.215.14"], "the socket goes to the address checked, never to the name"
