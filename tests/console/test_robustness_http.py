"""What an unauthenticated (or merely hostile) client can send over real HTTP: a live server, `requests`.

The Django test client skips the WSGI handler's own request handling (body limits, error pages), so these
go through the socket like a probe would. None of them may end in a 500 or a logged traceback.
"""

from __future__ import annotations

import logging

import pytest
import requests

from tests.factories import make_member, make_project, make_repository, make_user
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db(transaction=True)

DEEP = b"[" * 100_000
TEN_MB = b"{" + b" " * (10 * 1024 * 1024) + b"}"


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    stand_in(monkeypatch, "sync", lambda run_id, **_: None)
    stand_in(monkeypatch, "provisioning", lambda run_id, **_: None)


@pytest.fixture
def server_errors(caplog):
    """Every record the server logged at ERROR or above (Django logs each 500 with its traceback)."""
    caplog.set_level(logging.WARNING)
    return lambda: [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.fixture
def token(live_server):
    user = make_user()
    project = make_project()
    make_member(user, project, "owner")
    repository = make_repository(project)
    response = requests.post(f"{live_server.url}/api/v1/auth/token/",
                             json={"username": user.username, "password": "pass-word-123"}, timeout=30)
    assert response.status_code == 200, response.text
    return {"token": response.json()["token"], "project": project, "repository": repository}


def post(url: str, body: bytes, **headers) -> requests.Response:
    return requests.post(url, data=body, headers={"Content-Type": "application/json", **headers}, timeout=60)


def assert_json_error(response: requests.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers["Content-Type"]
    body = response.json()
    assert set(body) >= {"detail", "code"}, body
    if code is not None:
        assert body["code"] == code, body
    return body


def test_deeply_nested_json_is_refused_without_a_server_error(live_server, token, server_errors):
    url = live_server.url
    auth = {"Authorization": f"Token {token['token']}"}
    assert_json_error(post(f"{url}/api/v1/auth/token/", DEEP), 400, "parse_error")
    assert_json_error(post(f"{url}/api/v1/projects/", DEEP, **auth), 400, "parse_error")
    assert_json_error(requests.patch(f"{url}/api/v1/repositories/{token['repository'].pk}/", data=DEEP,
                                     headers={"Content-Type": "application/json", **auth}, timeout=60),
                      400, "parse_error")
    # Webhooks answer a body they cannot read the way they answer any unreadable body: not authenticated.
    assert_json_error(post(f"{url}/api/v1/hooks/gitlab/", DEEP, **{"X-Gitlab-Event": "Push Hook",
                                                                  "X-Gitlab-Token": "x"}), 401)
    assert_json_error(post(f"{url}/api/v1/hooks/github/", DEEP, **{"X-GitHub-Event": "push",
                                                                  "X-Hub-Signature-256": "sha256=00"}), 401)
    # Reasonable nesting still parses: the limit is on depth, not on JSON.
    nested = b'{"username": "nobody", "password": "x", "extra": ' + b"[" * 20 + b"]" * 20 + b"}"
    assert_json_error(post(f"{url}/api/v1/auth/token/", nested), 400, "invalid_credentials")
    assert server_errors() == []


def test_a_bearer_jwt_nested_too_deep_is_refused_without_a_server_error(live_server, token, server_errors):
    import base64

    def segment(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    deep = '{"alg": "RS256", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    for header, payload in ((deep, '{"iss": "x"}'), ('{"alg": "RS256", "kid": "k"}', deep)):
        jwt = f"{segment(header)}.{segment(payload)}.c2ln"
        assert jwt.startswith("eyJ")
        response = requests.post(f"{live_server.url}/api/v1/repositories/{token['repository'].pk}/sync/",
                                 headers={"Authorization": f"Bearer {jwt}"}, timeout=30)
        assert_json_error(response, 401)
    assert server_errors() == []


def test_options_on_the_api_docs_is_not_a_server_error(live_server, server_errors):
    response = requests.options(f"{live_server.url}/api/docs/", timeout=30)
    assert response.status_code in (200, 405), response.text[:500]
    assert requests.get(f"{live_server.url}/api/docs/", timeout=30).status_code == 200
    assert server_errors() == []


def test_format_suffix_routes_are_not_published(live_server, token, server_errors):
    project, repository = token["project"], token["repository"]
    auth = {"Authorization": f"Token {token['token']}"}
    paths = [
        "organizations.json", f"organizations/{project.organization_id}.json", "projects.json",
        f"projects/{project.pk}.json", f"projects/{project.pk}/archive.json",
        f"projects/{project.pk}/argocd-credentials.json", f"projects/{project.pk}/manifests.json",
        f"projects/{project.pk}/members.json", f"projects/{project.pk}/members/1.json",
        f"projects/{project.pk}/provision.json", f"projects/{project.pk}/provisioning-runs.json",
        f"projects/{project.pk}/repositories.json", f"repositories/{repository.pk}.json",
        f"repositories/{repository.pk}/sync.json", f"repositories/{repository.pk}/syncs.json",
        "syncs.json", "syncs/1.json", ".json",
    ]
    for path in paths:
        for method in ("GET", "POST", "DELETE"):
            response = requests.request(method, f"{live_server.url}/api/v1/{path}", headers=auth, timeout=30)
            assert response.status_code == 404, (method, path, response.status_code, response.text[:300])
    # The routes themselves still answer.
    assert requests.get(f"{live_server.url}/api/v1/projects/", headers=auth, timeout=30).status_code == 200
    assert server_errors() == []


def test_bodies_over_the_upload_limit_get_a_json_413(live_server, token, settings, server_errors):
    url = live_server.url
    auth = {"Authorization": f"Token {token['token']}"}
    for path, headers in [
        ("/api/v1/auth/token/", {}),
        ("/api/v1/projects/", auth),
        ("/api/v1/hooks/gitlab/", {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "x"}),
        ("/api/v1/hooks/github/", {"X-GitHub-Event": "push"}),
    ]:
        body = assert_json_error(post(f"{url}{path}", TEN_MB, **headers), 413, "payload_too_large")
        assert f"limited to {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes" in body["detail"]
    assert server_errors() == []
