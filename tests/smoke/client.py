"""A small HTTP client for the smoke test's own set-up and checks (the documented commands use curl), and a
GitLab-like JWKS endpoint with id_token minting."""

from __future__ import annotations

import http.cookiejar
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://gitlab.smoke.test"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Http:
    """Keeps cookies (a signed-in browser); never follows redirects unless asked; never uses a proxy."""

    def __init__(self, base_url: str, follow_redirects: bool = False):
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        handlers = [urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.cookies)]
        if not follow_redirects:
            handlers.append(_NoRedirect())
        self.opener = urllib.request.build_opener(*handlers)

    def request(self, method: str, path: str, *, data=None, json_body=None, headers=None):
        headers = dict(headers or {})
        body = None
        if json_body is not None:
            body, headers["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        elif data is not None:
            body = urllib.parse.urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        url = path if path.startswith("http") else self.base_url + path
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=20) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def form_post(self, path: str, fields: dict, *, page: str | None = None):
        """Submit a Django form as a browser would: the CSRF token from the form page first."""
        status, _, body = self.request("GET", page or path)
        assert status == 200, (path, status)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body.decode()).group(1)
        return self.request("POST", path, data={"csrfmiddlewaretoken": token, **fields})

    def sign_in(self, username: str, password: str, login_path: str = "/accounts/login/") -> None:
        status, headers, body = self.form_post(login_path, {"username": username, "password": password})
        assert status == 302, f"sign-in as {username} failed: {status} {body[:500]!r}"


def api_token(base_url: str, username: str, password: str) -> str:
    status, _, body = Http(base_url).request("POST", "/api/v1/auth/token/",
                                             data={"username": username, "password": password})
    assert status == 200, body
    return json.loads(body)["token"]


def wait_for_run(base_url: str, run_url: str, token: str, timeout: float = 40) -> dict:
    """Poll a sync run until it ends; fail on `failed` or on timeout."""
    deadline = time.monotonic() + timeout
    http = Http(base_url)
    while True:
        status, _, body = http.request("GET", run_url, headers={"Authorization": f"Token {token}"})
        assert status == 200, (run_url, status, body[:500])
        run = json.loads(body)
        if run["status"] in {"succeeded", "no_change", "failed"}:
            assert run["status"] != "failed", f"the run failed: {run}"
            return run
        assert time.monotonic() < deadline, f"the run did not finish: {run}"
        time.sleep(0.3)


class GitLabKeys:
    """GitLab's /oauth/discovery/keys on loopback, and id_tokens signed with its key."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key())), "kid": "smoke-1",
               "use": "sig", "alg": "RS256"}
        document = json.dumps({"keys": [jwk]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oauth/discovery/keys"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def mint(self, *, audience: str, project_path: str) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER, "aud": audience, "iat": now, "nbf": now - 1, "exp": now + 300,
            "sub": f"project_path:{project_path}:ref_type:branch:ref:main", "project_id": "42",
            "project_path": project_path, "namespace_path": project_path.split("/")[0], "user_login": "dev",
            "pipeline_id": "1001", "pipeline_source": "push", "job_id": "5005", "ref": "main",
            "ref_type": "branch", "ref_path": "refs/heads/main", "ref_protected": "true",
            "sha": "0123456789abcdef0123456789abcdef01234567", "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "smoke-1"})

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
