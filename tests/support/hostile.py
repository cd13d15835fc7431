"""Loopback servers that misbehave on purpose, for the git transport security tests.

``Recorder`` answers every request with a Basic-auth challenge and records whether an Authorization header
came with it (the "other host" a redirect points at). ``Redirector`` answers every request with a redirect
to another base URL. ``PlainHttp`` is a web server that is not a git server, ``Closer`` accepts and hangs
up, ``TlsHttp`` speaks TLS with a self-signed certificate. Everything binds 127.0.0.1.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.answer()

    def answer(self) -> None:
        raise NotImplementedError


class _Background:
    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Recorder(_Background):
    """Challenges for Basic auth; ``requests`` holds (path, Authorization header or None)."""

    def __init__(self):
        class Handler(_Quiet):
            def answer(self) -> None:
                self.server.owner.requests.append((self.path, self.headers.get("Authorization")))
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="other host"')
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)
        self.requests: list[tuple[str, str | None]] = []

    @property
    def authorizations(self) -> list[str]:
        return [auth for _, auth in self.requests if auth]


class Redirector(_Background):
    """Every request → ``status`` redirect to the same path under ``target`` (another server)."""

    def __init__(self, target: str, status: int = 302):
        class Handler(_Quiet):
            def answer(self) -> None:
                self.server.owner.requests.append(self.path)
                self.send_response(status)
                self.send_header("Location", target.rstrip("/") + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)
        self.requests: list[str] = []


class PlainHttp(_Background):
    """A web server that is not a git server: 200 and a small HTML page for everything."""

    def __init__(self):
        class Handler(_Quiet):
            def answer(self) -> None:
                body = b"<html><body>internal dashboard</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)


class TlsHttp(PlainHttp):
    """The same page over TLS with a freshly made self-signed certificate."""

    def __init__(self, folder: Path):
        super().__init__()
        cert, key = _self_signed(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)


class Closer:
    """Accepts TCP connections and closes them at once."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.port = self.sock.getsockname()[1]

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.close()

    def __enter__(self) -> Closer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.sock.close()


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1)).sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
