"""Git smart HTTP served by the real ``git http-backend``, behind Basic auth.

The console uses it as the local forge (bare repositories on disk, read by Argo CD and written by the
mirror), and tests use it as a loopback stand-in for any external forge. Access decisions belong to an
``Authorizer`` callback, so the same server fits a one-token test double and ``LocalForge``'s rules.
"""

from __future__ import annotations

import base64
import binascii
import enum
import logging
import os
import re
import socket
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)

GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
REALM = "DSO Console"

_COPY_CHUNK = 64 * 1024
# How often serve_forever checks for stop(): the default 0.5 s would make every stop() (and test) that slow.
_SHUTDOWN_POLL = 0.05
# The endpoints git's smart (and dumb HEAD) protocol uses below a repository directory.
_ENDPOINT = re.compile(r"^(?P<repo>.+?\.git)/(?P<endpoint>info/refs|git-upload-pack|git-receive-pack|HEAD)$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


class GitAccess(enum.IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2


# (repository path relative to the root, e.g. "dso/acme/shop/backend.git", username, password) -> access
Authorizer = Callable[[str, "str | None", "str | None"], GitAccess]


def anonymous_read(repo_path: str, username: str | None, password: str | None) -> GitAccess:
    """Authorizer for public, read-only serving."""
    return GitAccess.READ


class _BadRequest(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Many short git requests per operation: a quick restart must not trip over TIME_WAIT.
    allow_reuse_address = True

    def __init__(self, address, handler, *, git_server: GitHttpServer):
        self.git_server = git_server
        super().__init__(address, handler)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and git sends chunked bodies only to HTTP/1.1 servers
    server_version = "dso-git-http"
    wbufsize = _COPY_CHUNK
    timeout = 300  # a stalled client must not pin a thread forever
    server: _Server

    def setup(self) -> None:
        # Without this, Nagle + delayed ACK stalls every request/response pair by ~40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        # Request lines carry paths and service names only; credentials travel in a header never logged.
        logger.debug("git-http %s " + format, self.client_address[0], *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        git = self.server.git_server
        self._headers_sent = False  # the handler lives as long as a kept-alive connection
        try:
            split = urlsplit(self.path)
            repo_path, endpoint = git._route(split.path)
            write = endpoint == "git-receive-pack" or (
                endpoint == "info/refs" and "service=git-receive-pack" in split.query.split("&")
            )
            if endpoint in ("git-upload-pack", "git-receive-pack") and self.command != "POST":
                raise _BadRequest(405, "method not allowed")
            if endpoint in ("info/refs", "HEAD") and self.command != "GET":
                raise _BadRequest(405, "method not allowed")
            username, password = self._credentials()
            granted = git.authorize(repo_path, username, password)
            needed = GitAccess.WRITE if write else GitAccess.READ
            if granted < needed:
                if password is not None and granted >= GitAccess.READ:
                    # Known reader asking to write: asking again for credentials would not help.
                    raise _BadRequest(403, "write access denied")
                self._reject_unauthenticated()
                return
            # The backend gets the path that was validated and authorized, never the raw (encoded) one.
            self._run_backend(git, f"/{repo_path}/{endpoint}", split.query, username,
                              write=granted >= GitAccess.WRITE)
        except _BadRequest as exc:
            self._simple(exc.status, exc.reason)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away; nothing left to answer
        except Exception:
            # Logged without locals or headers, so no credential can reach the log.
            logger.exception("git-http: %s %s failed", self.command, urlsplit(self.path).path)
            self.close_connection = True
            if not self._headers_sent:
                self._simple(500, "internal error")

    _headers_sent = False

    def end_headers(self) -> None:
        self._headers_sent = True
        super().end_headers()

    def _credentials(self) -> tuple[str | None, str | None]:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not value:
            return None, None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _BadRequest(400, "malformed authorization header") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            return username or None, None
        return username or None, password

    def _reject_unauthenticated(self) -> None:
        body = b"authentication required\n"
        self.close_connection = True  # the unread request body would corrupt a kept-alive connection
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Basic realm="{REALM}"')
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _simple(self, status: int, reason: str) -> None:
        body = (reason + "\n").encode()
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # --- CGI -------------------------------------------------------------------------------------------

    def _run_backend(self, git: GitHttpServer, path_info: str, query: str, username: str | None, *,
                     write: bool) -> None:
        env = git._base_env()
        env.update(
            {
                "GIT_PROJECT_ROOT": str(git.root),
                "PATH_INFO": path_info,
                "REQUEST_METHOD": self.command,
                "QUERY_STRING": query,
                "REMOTE_ADDR": self.client_address[0],
                "SERVER_PROTOCOL": "HTTP/1.1",
                "GATEWAY_INTERFACE": "CGI/1.1",
            }
        )
        # http-backend enables receive-pack only for an authenticated user: grant it exactly when WRITE was.
        if write:
            env["REMOTE_USER"] = username or "git"
        for header, variable in (
            ("Content-Type", "CONTENT_TYPE"),
            ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
            ("Git-Protocol", "HTTP_GIT_PROTOCOL"),
        ):
            value = self.headers.get(header)
            if value:
                env[variable] = value
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length = int(self.headers.get("Content-Length") or 0) if not chunked else None
        if length is not None and self.command == "POST":
            env["CONTENT_LENGTH"] = str(length)
        # Without CONTENT_LENGTH, http-backend reads the (de-chunked) body up to EOF.

        proc = subprocess.Popen(
            [GIT_HTTP_BACKEND], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        stderr_tail: list[bytes] = []
        readers = [
            threading.Thread(target=self._feed, args=(proc, chunked, length), daemon=True),
            threading.Thread(target=lambda: stderr_tail.append(proc.stderr.read()[-4000:]), daemon=True),
        ]
        for thread in readers:
            thread.start()
        try:
            self._relay(proc)
        finally:
            proc.stdout.close()
            for thread in readers:
                thread.join()
            proc.wait()
            proc.stderr.close()
        if proc.returncode and stderr_tail and stderr_tail[0]:
            logger.debug("git-http-backend exited %s: %s", proc.returncode,
                         stderr_tail[0].decode(errors="replace").strip())

    def _feed(self, proc: subprocess.Popen, chunked: bool, length: int | None) -> None:
        """Copy the request body to the backend, decoding chunked transfer encoding on the way."""
        try:
            if chunked:
                for piece in self._read_chunks():
                    proc.stdin.write(piece)
            else:
                remaining = length or 0
                while remaining > 0:
                    piece = self.rfile.read(min(remaining, _COPY_CHUNK))
                    if not piece:
                        break
                    remaining -= len(piece)
                    proc.stdin.write(piece)
        except (BrokenPipeError, ConnectionError, OSError, ValueError):
            self.close_connection = True
        finally:
            try:
                proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass

    def _read_chunks(self):
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise ConnectionError("client closed the connection mid-body")
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers carry nothing git needs
                return
            remaining = size
            while remaining > 0:
                piece = self.rfile.read(min(remaining, _COPY_CHUNK))
                if not piece:
                    raise ConnectionError("client closed the connection mid-chunk")
                remaining -= len(piece)
                yield piece
            self.rfile.readline(1024)  # CRLF after each chunk

    def _relay(self, proc: subprocess.Popen) -> None:
        """Turn the CGI response (headers, blank line, body) into an HTTP/1.1 response."""
        status, reason = 200, "OK"
        headers: list[tuple[str, str]] = []
        while True:
            line = proc.stdout.readline()
            if not line:
                self._simple(502, "git http-backend produced no response")
                return
            line = line.rstrip(b"\r\n")
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip(), value.strip()
            if name.lower() == "status":
                code, _, text = value.partition(" ")
                status, reason = int(code), text or None
            else:
                headers.append((name, value))
        self.send_response(status, reason)
        has_length = any(name.lower() == "content-length" for name, _ in headers)
        for name, value in headers:
            self.send_header(name, value)
        if not has_length:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while True:
            piece = proc.stdout.read1(_COPY_CHUNK)
            if not piece:
                break
            if has_length:
                self.wfile.write(piece)
            else:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        if not has_length:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class GitHttpServer:
    """Serves every bare repository (``*.git`` directory) below ``root`` over Git smart HTTP."""

    def __init__(self, root: Path, authorize: Authorizer, *, host: str = "127.0.0.1", port: int = 0,
                 url_prefix: str = ""):
        if not Path(GIT_HTTP_BACKEND).exists():
            raise RuntimeError(f"{GIT_HTTP_BACKEND} is missing: install git")
        self.root = Path(root).resolve()
        self.authorize = authorize
        self.url_prefix = "/" + url_prefix.strip("/") if url_prefix.strip("/") else ""
        server_class = _Server6 if ":" in host else _Server
        self._httpd = server_class((host, port), _Handler, git_server=self)
        # A client that connects and resets between the poll and accept() would leave accept() blocked for
        # good, and stop() waiting on it forever: a timeout turns that into one more turn of the loop.
        self._httpd.socket.settimeout(1.0)
        self._host = host
        self._thread: threading.Thread | None = None
        self._serving = False

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}{self.url_prefix}"

    def start(self) -> GitHttpServer:
        self._serving = True
        self._thread = threading.Thread(target=self.serve_forever, name="git-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._serving = True
        try:
            self._httpd.serve_forever(poll_interval=_SHUTDOWN_POLL)
        finally:
            self._serving = False

    def stop(self) -> None:
        if self._serving:
            self._httpd.shutdown()
            self._serving = False
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> GitHttpServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- used by the handler ---------------------------------------------------------------------------

    def _route(self, raw_path: str) -> tuple[str, str]:
        """Validate a request path; return (repository path relative to root, endpoint)."""
        if not raw_path.startswith(self.url_prefix + "/"):
            raise _BadRequest(404, "not found")
        rest = unquote(raw_path[len(self.url_prefix) + 1:])
        match = _ENDPOINT.match(rest)
        if not match:
            raise _BadRequest(404, "not found")
        repo_path = match["repo"]
        segments = repo_path.split("/")
        if any(s in ("", ".", "..") or not _SEGMENT.match(s) for s in segments):
            raise _BadRequest(400, "invalid repository path")
        directory = (self.root / repo_path).resolve()
        # resolve() follows symlinks: a link pointing outside the root is as bad as "..".
        if not directory.is_relative_to(self.root) or not (directory / "HEAD").is_file() \
                or not (directory / "objects").is_dir():
            raise _BadRequest(404, "repository not found")
        return repo_path, match["endpoint"]

    def _base_env(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "LC_ALL": "C",
        }
        home = os.environ.get("HOME")
        if home:
            env["HOME"] = home
        return env

