"""Security headers over real HTTP: a Content-Security-Policy that allows no inline script or style on any
page (so the portal and the admin must ship none), and HSTS on HTTPS requests."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
import requests

from console.models import Role
from tests.factories import make_member, make_project, make_repository, make_user

pytestmark = pytest.mark.django_db(transaction=True)


class InlineCode(HTMLParser):
    """Collects what a `script-src 'self'; style-src 'self'` policy would block: inline scripts, inline
    event handlers, style elements and attributes, javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and "src" not in attributes and attributes.get("type") not in (
                "application/json", "application/ld+json"):
            self._in_inline_script = True
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:...>")

    def handle_data(self, data):
        if self._in_inline_script and data.strip():
            self.found.append(f"<script>{data.strip()[:60]}</script>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def signed_in(live_server, username: str) -> requests.Session:
    session = requests.Session()
    url = f"{live_server.url}/accounts/login/"
    session.get(url, timeout=10)
    response = session.post(url, data={"username": username, "password": "pass-word-123",
                                       "csrfmiddlewaretoken": session.cookies["csrftoken"]},
                            headers={"Referer": url}, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[:500]
    return session


def test_every_page_has_a_strict_policy_and_no_inline_code(live_server):
    root = make_user("root", staff=True)
    root.is_superuser = True
    root.save()
    project = make_project()
    make_member(root, project, Role.OWNER)
    repository = make_repository(project, "app", is_infra=True, deploy_kind="kustomize")
    session = signed_in(live_server, "root")
    pages = ["/accounts/login/", "/", f"/organizations/{project.organization.slug}/", f"/projects/{project.pk}/",
             f"/projects/{project.pk}/manifests/", f"/repositories/{repository.pk}/", "/api/docs/",
             "/admin/", f"/admin/console/repository/{repository.pk}/change/", "/admin/console/project/"]
    for path in pages:
        response = session.get(live_server.url + path, timeout=10)
        assert response.status_code == 200, (path, response.status_code)
        policy = response.headers.get("Content-Security-Policy", "")
        directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
        assert directives.get("script-src") == ["'self'"], (path, policy)
        assert directives.get("style-src") == ["'self'"], (path, policy)
        assert directives.get("frame-ancestors") == ["'none'"] and directives.get("object-src") == ["'none'"]
        if "text/html" in response.headers["Content-Type"]:
            assert inline_code(response.text) == [], path
    # The API docs' start-up script is a file of the console's own, as the policy requires.
    script = session.get(f"{live_server.url}/api/docs/?script=", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]


@pytest.fixture
def fresh_server():
    """The console served by a new WSGI handler on loopback: Django's SecurityMiddleware reads its settings
    when the handler is built, after this test changed them (live_server is built once per session)."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from django.core.handlers.wsgi import WSGIHandler

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, WSGIHandler(), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def hsts_settings(settings):
    settings.SECURE_HSTS_SECONDS = 365 * 24 * 3600
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["127.0.0.1"]


def test_hsts_is_sent_on_https_requests(hsts_settings, fresh_server):
    url = f"{fresh_server}/accounts/login/"
    secure = requests.get(url, headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    # Browsers ignore HSTS over plain HTTP; Django does not send it there.
    assert "Strict-Transport-Security" not in requests.get(url, timeout=10).headers
