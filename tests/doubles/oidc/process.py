"""The provider double as a process: start, control over HTTP, stop. See tests.doubles.oidc.server for what
runs inside and tests.doubles.oidc.provider.control for the control API."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

REPO_ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_SECONDS = 60


@dataclass
class ProviderUser:
    username: str
    password: str
    sub: str
    groups: list[str] = field(default_factory=list)
    email: str = ""


class ProviderDown(RuntimeError):
    pass


class OidcProvider:
    """A real OpenID Connect provider (django-oidc-provider) on 127.0.0.1, with one confidential client for
    the console (authorization code flow, PKCE honoured, RS256 ID tokens carrying `groups`)."""

    def __init__(self, workdir: Path, *, port: int = 0):
        self.workdir = Path(workdir)
        self.port = port
        self.client_id = "dso-console-" + secrets.token_hex(4)
        self.client_secret = secrets.token_urlsafe(24)
        self._control_token = secrets.token_urlsafe(24)
        self._process: subprocess.Popen | None = None
        self.url = ""

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> OidcProvider:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._stderr_path = self.workdir / "provider.stderr"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.doubles.oidc.provider.settings",
            "OIDC_DOUBLE_DB": str(self.workdir / "provider.sqlite3"),
            "OIDC_DOUBLE_SECRET_KEY": secrets.token_urlsafe(32),
            "OIDC_DOUBLE_CONTROL_TOKEN": self._control_token,
            "OIDC_DOUBLE_CLIENT_ID": self.client_id,
            "OIDC_DOUBLE_CLIENT_SECRET": self.client_secret,
            "OIDC_DOUBLE_PORT": str(self.port),
            "PYTHONPATH": str(REPO_ROOT),
        }
        env.pop("DATABASE_URL", None)
        self._stderr = open(self._stderr_path, "wb")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.doubles.oidc.server"], cwd=REPO_ROOT, env=env,
            # The server exits when its stdin closes: a test run that dies leaves no provider behind.
            stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.PIPE,
        )
        line = self._first_line()
        match = re.fullmatch(r"READY (\S+) (\S+) (\S+)", line.strip())
        if not match:
            self.stop()
            raise RuntimeError(f"OIDC provider double did not start: {line!r}\n{self._stderr_text()}")
        self.url = match.group(1)
        self.port = int(urlsplit(self.url).port)
        return self

    def _first_line(self) -> str:
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self._process.stdout.readline().decode()),
                                  daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_SECONDS)
        return result[0] if result else ""

    def _stderr_text(self) -> str:
        try:
            return self._stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the process (a test of a provider that is down calls this; `start()` serves again on the
        same port)."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
            self._process.stdout.close()
            self._process.stdin.close()
            self._process = None
            self._stderr.close()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- what the console is configured with -------------------------------------------------------
    @property
    def issuer(self) -> str:
        return f"{self.url}/openid"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def login_url(self) -> str:
        return f"{self.url}/accounts/login/"

    def configure_console(self, settings, console_url: str = "http://testserver", **overrides) -> None:
        """Point the console's settings (pytest-django's `settings` fixture) at this provider, and accept
        `console_url`'s callback and post-logout addresses."""
        settings.OIDC_ISSUER = self.issuer
        settings.OIDC_DISCOVERY_URL = ""
        settings.OIDC_CLIENT_ID = self.client_id
        settings.OIDC_CLIENT_SECRET = self.client_secret
        settings.OIDC_PROVIDER_NAME = "Test identity provider"
        for name, value in overrides.items():
            setattr(settings, name, value)
        self.allow_console(console_url)

    def allow_console(self, console_url: str) -> None:
        """Register the console at `console_url` (e.g. live_server.url) as a redirect target of the client."""
        base = console_url.rstrip("/")
        self._control("clients/", {"client_id": self.client_id,
                                   "redirect_uris": [f"{base}/oidc/callback/"],
                                   "post_logout_redirect_uris": [f"{base}/accounts/login/", f"{base}/"]})

    # --- control ------------------------------------------------------------------------------------
    def _control(self, path: str, data: dict) -> dict:
        response = requests.post(f"{self.url}/_control/{path}", json=data, timeout=10,
                                 headers={"X-Control-Token": self._control_token})
        response.raise_for_status()
        return response.json()

    def create_user(self, username: str, password: str | None = None, *, groups: list[str] | tuple = (),
                    email: str = "", first_name: str = "", last_name: str = "") -> ProviderUser:
        """A user who can sign in at the provider with `password` (one is made up when not given)."""
        password = password or secrets.token_urlsafe(12)
        data = self._control("users/", {"username": username, "password": password, "groups": list(groups),
                                        "email": email or f"{username}@example.test",
                                        "first_name": first_name, "last_name": last_name})
        return ProviderUser(username=username, password=password, sub=data["sub"], groups=data["groups"],
                            email=email or f"{username}@example.test")

    def set_groups(self, username: str, groups: list[str] | tuple) -> list[str]:
        return self._control("users/", {"username": username, "groups": list(groups)})["groups"]

    def set_mode(self, mode: str) -> None:
        """normal, expired (ID tokens expired), tampered (ID token payload rewritten after signing),
        wrong_audience (ID tokens issued to another client) or userinfo_groups (groups only in userinfo,
        for the `groups` scope)."""
        self._control("mode/", {"mode": mode})

    def reset(self) -> None:
        self._control("reset/", {})

    def signed_in(self) -> list[str]:
        """Usernames with a session at the provider."""
        return self._control("sessions/", {})["signed_in"]

    # --- driving the provider's login form over HTTP --------------------------------------------------
    def sign_in(self, session: requests.Session, authorize_url: str, user: ProviderUser | str,
                password: str | None = None) -> str:
        """Follow `authorize_url` (where the console sent the browser) through the provider's login form
        as a browser would, with `session` holding the provider's cookies. Returns the first address
        outside the provider it redirects to: the console's callback with `code` and `state`."""
        username = user.username if isinstance(user, ProviderUser) else user
        password = password if password is not None else getattr(user, "password", "")
        url = authorize_url
        for _ in range(10):
            if not url.startswith(self.url):
                return url
            response = session.get(url, allow_redirects=False, timeout=10)
            if response.status_code in (301, 302, 303, 307, 308):
                url = urljoin(url, response.headers["Location"])
                continue
            if 'id="provider-login"' not in response.text:
                raise AssertionError(f"provider answered {response.status_code} at {url}: {response.text[:500]}")
            url = self._post_login_form(session, response, username, password)
        raise AssertionError("too many redirects at the provider")

    def _post_login_form(self, session: requests.Session, page: requests.Response, username: str,
                         password: str) -> str:
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        next_value = re.search(r'name="next" value="([^"]*)"', page.text).group(1).replace("&amp;", "&")
        response = session.post(self.login_url, allow_redirects=False, timeout=10,
                                data={"csrfmiddlewaretoken": csrf, "username": username, "password": password,
                                      "next": next_value},
                                headers={"Referer": page.url})
        if response.status_code != 302:
            raise AssertionError(f"the provider refused the sign-in of {username!r} ({response.status_code})")
        return urljoin(self.login_url, response.headers["Location"])
