"""The one way this product connects to an MCP server: every TCP connection (the first, each
reconnect, each redirect the MCP SDK follows) resolves the name itself, refuses a private,
loopback, link-local or otherwise non-public address unless an administrator allowed private
ranges for that server, and connects to the very address it checked. A name that resolves to a
public address once and to 127.0.0.1 the next time (DNS rebinding) is checked both times, and
the socket goes to the checked address, never to a second lookup's answer.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore2
import httpx2

from chatbot.errors import ChatbotError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefusedError(ChatbotError):
    """The server's address is in a range this product does not call."""

    code = "tool_address_refused"
    http_status = 400


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet (not private, loopback, link-local such as
    the cloud metadata service at 169.254.169.254, multicast, reserved or unspecified). An IPv6
    address that carries an IPv4 one (mapped, 6to4, NAT64's well-known prefix) is judged by it."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in ipaddress.IPv6Network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast


def check_address(address: IPAddress, host: str, *, allow_private: bool) -> None:
    if not allow_private and not is_public(address):
        raise AddressRefusedError(
            f"{host} resolves to {address}, a private or local address; MCP servers are called only "
            "on public addresses unless an administrator allows private ranges for that server."
        )


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpcore2.ConnectError(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """httpcore's network backend with the check in front of every connection."""

    def __init__(self, *, allow_private: bool):
        self._allow_private = allow_private
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        addresses = await resolve(host, port)
        for address in addresses:  # every answer is checked: one bad address refuses the name
            check_address(address, host, allow_private=self._allow_private)
        return await self._inner.connect_tcp(
            str(addresses[0]),
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("MCP servers are called over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    def __init__(self, *, allow_private: bool):
        # trust_env=False: a proxy from the environment would connect for us, unchecked.
        super().__init__(trust_env=False)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(),
            network_backend=GuardedBackend(allow_private=allow_private),
        )


def guarded_client(
    *, allow_private: bool, headers: dict[str, str] | None = None, timeout_s: float = 30.0
) -> httpx2.AsyncClient:
    """An HTTP client for the MCP SDK (which follows redirects itself, within the origin only)."""
    return httpx2.AsyncClient(
        transport=GuardedTransport(allow_private=allow_private),
        headers=headers,
        timeout=httpx2.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
    )
