"""The suite's own network guard: nothing in the test process may connect outside loopback."""

import socket

import pytest
import requests

from tests.support.loopback_only import OutsideConnectionRefused


@pytest.mark.parametrize("address", [("192.0.2.1", 443), ("10.0.0.1", 6443), ("::ffff:192.0.2.1", 443)])
def test_a_connection_outside_loopback_is_refused_before_it_starts(address):
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock, pytest.raises(OutsideConnectionRefused):
        sock.connect(address)


def test_a_client_library_reaching_outside_gets_a_connection_error():
    with pytest.raises(requests.ConnectionError):
        requests.get("https://192.0.2.1/", timeout=1)


def test_loopback_still_connects():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=1):
            pass
