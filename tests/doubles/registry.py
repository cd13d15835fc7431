"""A real OCI registry on loopback: Debian's ``docker-registry`` (distribution 2.8) started with a temporary
config, optionally behind token auth (its ``auth.token`` section) with a small token server that signs
RS256 JWTs whose ``x5c`` header carries a self-signed certificate the registry trusts.

Images are pushed over the registry's own HTTP API (config blob upload, then an OCI manifest without
layers): no Docker daemon is needed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

REGISTRY_BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
SERVICE = "dso-test-registry"
ISSUER = "dso-test-token-issuer"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TokenIssuer:
    """Signs the registry's access tokens; ``users`` maps username → password that may pull (and push)."""

    def __init__(self, root: Path):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = dt.datetime.now(dt.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                     .not_valid_after(now + dt.timedelta(days=2))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.bundle = root / "token-ca.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.users: dict[str, str] = {}
        self.requests: list[dict] = []

    def token(self, scope: str, *, subject: str = "") -> str:
        access = []
        for item in filter(None, scope.split(" ")):
            kind, _, rest = item.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": uuid.uuid4().hex, "access": access}
        x5c = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"x5c": [x5c]})


def _token_handler(issuer: TokenIssuer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            query = parse_qs(urlsplit(self.path).query)
            header = self.headers.get("Authorization", "")
            user = password = None
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            issuer.requests.append({"service": query.get("service", [""])[0], "scope": query.get("scope", [""])[0],
                                    "user": user})
            if user is None or issuer.users.get(user) != password:
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errors":[{"code":"UNAUTHORIZED"}]}')
                return
            body = json.dumps({"token": issuer.token(query.get("scope", [""])[0], subject=user)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@dataclass
class LoopbackRegistry:
    root: Path
    token_auth: bool = False
    port: int = 0
    url: str = ""
    issuer: TokenIssuer | None = None
    process: subprocess.Popen | None = None
    _token_server: ThreadingHTTPServer | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def start(self) -> LoopbackRegistry:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = [
            "version: 0.1",
            "log:", "  level: error", "  accesslog:", "    disabled: true",
            "storage:", "  filesystem:", f"    rootdirectory: {self.root / 'data'}",
            "  delete:", "    enabled: true",
            "http:", f"  addr: 127.0.0.1:{self.port}", f"  secret: {uuid.uuid4().hex}",
        ]
        if self.token_auth:
            self.issuer = TokenIssuer(self.root)
            self._token_server = ThreadingHTTPServer(("127.0.0.1", 0), _token_handler(self.issuer))
            threading.Thread(target=self._token_server.serve_forever, daemon=True).start()
            realm = f"http://127.0.0.1:{self._token_server.server_address[1]}/token"
            config += ["auth:", "  token:", f"    realm: {realm}", f"    service: {SERVICE}", f"    issuer: {ISSUER}",
                       f"    rootcertbundle: {self.issuer.bundle}"]
        (self.root / "config.yml").write_text("\n".join(config) + "\n")
        self.process = subprocess.Popen([REGISTRY_BINARY, "serve", str(self.root / "config.yml")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                if requests.get(f"{self.url}/v2/", timeout=1).status_code in (200, 401):
                    return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not answer /v2/ within 15 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._token_server is not None:
            self._token_server.shutdown()
            self._token_server.server_close()

    def _headers(self, name: str) -> dict:
        if self.issuer is None:
            return {}
        return {"Authorization": f"Bearer {self.issuer.token(f'repository:{name}:pull,push', subject='pusher')}"}

    def push(self, name: str, tag: str, *, created: dt.datetime | None = None, label: str = "") -> str:
        """Push a small OCI image (config blob, no layers) as ``name:tag``; returns the manifest digest."""
        created = created or dt.datetime.now(dt.timezone.utc)
        config = json.dumps({
            "architecture": "amd64", "os": "linux", "created": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "config": {"Labels": {"tag": tag, "label": label}}, "rootfs": {"type": "layers", "diff_ids": []},
        }, sort_keys=True).encode()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        headers = self._headers(name)
        started = self.session.post(f"{self.url}/v2/{name}/blobs/uploads/", headers=headers, timeout=10)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        if location.startswith("/"):
            location = self.url + location
        joiner = "&" if "?" in location else "?"
        put = self.session.put(f"{location}{joiner}digest={config_digest}", data=config,
                               headers={**headers, "Content-Type": "application/octet-stream"}, timeout=10)
        assert put.status_code == 201, put.text
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)}, "layers": [],
        }).encode()
        answer = self.session.put(f"{self.url}/v2/{name}/manifests/{tag}", data=manifest,
                                  headers={**headers, "Content-Type": OCI_MANIFEST}, timeout=10)
        assert answer.status_code == 201, answer.text
        return answer.headers["Docker-Content-Digest"]


class PaginatingProxy:
    """distribution 2.8 ignores ``n`` on ``tags/list`` (its pagination landed in 3.0), while Harbor, GitLab and
    Docker Hub page tags with ``n``/``last`` and a ``Link: <...>; rel="next"`` header. This proxy forwards
    every request to the real registry unchanged and pages only the tag lists, as the distribution spec
    describes, so the client's paging is exercised over real HTTP against the real registry's data."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                paged = parts.path.endswith("/tags/list") and "n" in query
                target = proxy.upstream + (parts.path if paged else self.path)
                answer = requests.request(self.command, target, data=body, headers=headers, allow_redirects=False,
                                          timeout=10)
                content, extra = answer.content, {}
                if paged and answer.status_code == 200:
                    document = answer.json()
                    tags = sorted(document.get("tags") or [])
                    last = query.get("last", [""])[0]
                    rest = [t for t in tags if t > last] if last else tags
                    size = int(query["n"][0])
                    page = rest[:size]
                    content = json.dumps({"name": document["name"], "tags": page}).encode()
                    if len(rest) > size:
                        extra["Link"] = f'<{parts.path}?n={size}&last={page[-1]}>; rel="next"'
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "link"):
                        self.send_header(key, value)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            do_GET = do_HEAD = do_PUT = do_POST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
