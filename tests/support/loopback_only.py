"""The test process connects to loopback only: a connection to any other address is refused before it
starts, so a test (or a fuzzer) that registers an outside URL can never reach the network.

Installed once per session from tests/conftest.py. Subprocesses the tests start (git, workers) are bound
to loopback by the URLs the tests give them; this guards the code that runs in the test process itself:
the live servers' threads, the kubernetes and GitLab clients, requests and urllib3.
"""

from __future__ import annotations

import ipaddress
import socket

_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex


class OutsideConnectionRefused(ConnectionRefusedError):
    pass


def _check(sock: socket.socket, address) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # unix sockets (PostgreSQL's socket, local tools) stay local by nature
    host = address[0]
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        raise OutsideConnectionRefused(f"tests connect to loopback addresses only, not to name {host!r}")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if not ip.is_loopback:
        raise OutsideConnectionRefused(f"tests connect to loopback only: refused {host} before connecting")


def _guarded_connect(self, address):
    _check(self, address)
    return _original_connect(self, address)


def _guarded_connect_ex(self, address):
    _check(self, address)
    return _original_connect_ex(self, address)


def install() -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
