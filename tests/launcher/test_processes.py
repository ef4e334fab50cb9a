"""Ports for the servers the launcher and the tests start."""

from __future__ import annotations

import socket

from launcher.processes import LOWEST_PICKED_PORT, _lowest_ephemeral_port, free_port


def test_a_free_port_is_below_the_range_outgoing_connections_take_their_ports_from():
    # An outgoing connection can take a port of the ephemeral range between the pick and the
    # child's bind; it never takes one below it.
    low = _lowest_ephemeral_port()
    ports = {free_port() for _ in range(20)}
    assert all(LOWEST_PICKED_PORT <= port < low for port in ports)
    assert len(ports) > 1, "picked at random, so two servers started together rarely meet"
    for port in ports:
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))
