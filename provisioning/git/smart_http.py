"""What the console's own smart-HTTP requests to a git server share: which URLs they may go to, and a
connection pinned to the addresses netguard checked.

The in-process git requests (``ls_refs``, ``receive_pack``) are fast paths beside git, never replacements:
anything they cannot do exactly as git would (a proxy, a URL with user-info or a query, another scheme)
is left to git, which then succeeds or fails as it always did.
"""

from __future__ import annotations

import functools
import http.client
import re
import socket
import ssl
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from provisioning.errors import ProvisioningError
from provisioning.forge.base import GitRemote
from provisioning.git.env import basic_authorization
from provisioning.netguard import checked_addresses

# The requests name no object format, so they speak of SHA-1 objects only (a SHA-256 repository is git's).
SHA1 = re.compile(r"^[0-9a-f]{40}$")
# A fast path is an optimisation: an address that does not answer quickly is left to git (and its timeout).
_CONNECT_TIMEOUT_SECONDS = 15.0


def pkt_line(payload: bytes) -> bytes:
    return b"%04x%s" % (len(payload) + 4, payload)


@dataclass(frozen=True)
class Endpoint:
    """Where to post a service request for ``remote``, and how to reach it."""

    host: str
    port: int
    tls: bool
    path: str  # the repository's path, without a trailing slash
    addresses: tuple | None  # the checked addresses of an untrusted remote; None: resolve normally
    authorization: str | None

    def post(self, service: str, body: bytes, *, timeout: float, max_response_bytes: int,
             headers: dict[str, str] | None = None) -> bytes | None:
        """POST ``body`` to the repository's ``service`` (git-upload-pack, git-receive-pack); the answer's body,
        or None unless the server answered 200 with the service's result type within the size limit. Never
        follows a redirect (credentials stay with the remote's own origin)."""
        sent = {
            "Content-Type": f"application/x-{service}-request",
            "Accept": f"application/x-{service}-result",
            "User-Agent": "git/dso-console",
            **(headers or {}),
        }
        if self.authorization is not None:
            sent["Authorization"] = self.authorization
        connection = _PinnedConnection(self.host, self.port, addresses=self.addresses, tls=self.tls,
                                       timeout=timeout)
        try:
            connection.request("POST", f"{self.path}/{service}", body=body, headers=sent)
            response = connection.getresponse()
            if response.status != 200 or response.getheader("Content-Type", "").split(";")[0].strip() != (
                    f"application/x-{service}-result"):
                return None
            answer = response.read(max_response_bytes + 1)
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            connection.close()
        return answer if len(answer) <= max_response_bytes else None


def endpoint_for(remote: GitRemote) -> Endpoint | None:
    """The remote's smart-HTTP endpoint, or None when git must be used instead. A refused or unresolvable
    untrusted URL raises here, with the errors git's environment would raise."""
    try:
        parts = urlsplit(remote.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None  # git reports what is wrong with the URL
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query:
        return None
    if _proxied(parts.scheme, parts.hostname):
        return None  # git goes through the proxy; a direct connection might hang until the timeout
    addresses = checked_addresses(remote.url, remote.network)[1] if remote.network is not None else None
    return Endpoint(host=parts.hostname, port=port, tls=parts.scheme == "https", path=parts.path.rstrip("/"),
                    addresses=tuple(addresses) if addresses is not None else None,
                    authorization=basic_authorization(remote) if remote.has_credentials else None)


def endpoint_or_git(remote: GitRemote) -> Endpoint | None:
    """``endpoint_for`` for a fast path whose caller runs git when it gets nothing: a refused or unresolvable
    URL is None too, so that git raises that error, in its own words."""
    try:
        return endpoint_for(remote)
    except ProvisioningError:
        return None


def _proxied(scheme: str, host: str) -> bool:
    proxies = urllib.request.getproxies()
    return bool(proxies.get(scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(host)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system's CA store, as git's curl uses it; loaded once (a few ms each time)."""
    return ssl.create_default_context()


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to ``host`` that connects only to ``addresses`` when given (the ones netguard
    checked), while the Host header and the TLS certificate check still name ``host``."""

    def __init__(self, host: str, port: int, *, addresses, tls: bool, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses
        self._tls = tls

    def connect(self) -> None:
        candidates = [str(a) for a in self._addresses] if self._addresses is not None else [self.host]
        error: OSError | None = None
        for address in candidates:
            try:
                connect_timeout = min(self.timeout, _CONNECT_TIMEOUT_SECONDS)
                sock = socket.create_connection((address, self.port), connect_timeout)
                break
            except OSError as exc:
                error = exc
        else:
            raise error or OSError("no address to connect to")
        sock.settimeout(self.timeout)
        if self._tls:
            sock = _tls_context().wrap_socket(sock, server_hostname=self.host)
        self.sock = sock
