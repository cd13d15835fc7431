"""/healthz and /readyz: unauthenticated, answered before host checks and the HTTPS redirect, and each
dependency taken down for real (a closed port, a refused token, an unapplied migration) named in a 503."""

from __future__ import annotations

import socket

import pytest
from django.db import connection

from console.ops import health
from tests.doubles.gitlab.fixtures import gitlab_double  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A loopback port nothing listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def fresh_migration_check(monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)


def test_healthz_answers_any_host_over_http_even_with_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["console.example.com"]

    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")  # the kubelet calls the pod IP

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_readyz_is_ready_when_database_migrations_broker_and_forge_answer(
        client, settings, forge_server, django_assert_num_queries):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["console.example.com"]

    with django_assert_num_queries(2):  # SELECT 1, and the applied migrations
        response = client.get("/readyz", HTTP_HOST="10.1.2.3:8000")

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"database", "migrations", "broker", "forge"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_names_the_broker_when_it_does_not_accept_connections(client, settings, forge_server):
    settings.CELERY_BROKER_URL = f"redis://:broker-password-42@127.0.0.1:{closed_port()}/0"

    response = client.get("/readyz")

    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["broker"]
    assert body["code"] == "not_ready"
    assert "broker" in body["detail"] and "Celery broker" in body["checks"]["broker"]["detail"]
    assert "broker-password-42" not in response.content.decode()


def test_readyz_names_the_local_forge_when_its_server_is_down(client, settings):
    settings.LOCAL_FORGE_URL = f"http://127.0.0.1:{closed_port()}/git"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["forge"]
    assert "unreachable" in response.json()["checks"]["forge"]["detail"]


@pytest.fixture
def gitlab_forge(settings, gitlab_double):
    settings.FORGE_KIND = "gitlab"
    settings.GITLAB_URL = gitlab_double.url
    settings.GITLAB_TOKEN = gitlab_double.admin_token
    return gitlab_double


def test_readyz_asks_gitlab_with_the_consoles_token(client, settings, gitlab_forge):
    assert client.get("/readyz").status_code == 200

    settings.GITLAB_TOKEN = "revoked-token-123"
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["forge"]
    assert "DSO_GITLAB_TOKEN" in response.json()["checks"]["forge"]["detail"]
    assert "revoked-token-123" not in response.content.decode()


def test_readyz_names_unapplied_migrations(client, forge_server):
    with connection.cursor() as cursor:  # undone when the test's transaction rolls back
        cursor.execute("DELETE FROM django_migrations WHERE app = 'console' AND name = '0001_initial'")

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["migrations"]
    assert "console.0001_initial" in response.json()["checks"]["migrations"]["detail"]


def test_ready_checks_can_leave_the_forge_out(client, settings):
    settings.LOCAL_FORGE_URL = f"http://127.0.0.1:{closed_port()}/git"
    settings.READY_CHECKS = ("database", "migrations", "broker")

    response = client.get("/readyz")

    assert response.status_code == 200
    assert "forge" not in response.json()["checks"]


@pytest.mark.django_db(transaction=True)
def test_readyz_names_the_database_when_it_does_not_answer(client, settings, forge_server):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's in-memory test database stays open whatever its settings say: PostgreSQL only")
    default = connection.settings_dict
    original = default.get("PORT")
    connection.close()
    default["PORT"] = str(closed_port())  # PostgreSQL on a port nobody listens on
    try:
        response = client.get("/readyz")
    finally:
        connection.close()
        default["PORT"] = original

    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["database", "migrations"]
    assert "database does not answer" in body["checks"]["database"]["detail"]
    assert body["checks"]["broker"]["ok"] and body["checks"]["forge"]["ok"]
