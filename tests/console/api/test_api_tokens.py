"""User API tokens: only a hash is stored, they expire, their owner lists and revokes them, and the README's
`curl -d username=... -d password=... | jq -r .token` still works."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from console.models import ApiToken, AuditEvent
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pass-word-123"


def issue(user, **extra) -> dict:
    # Form-encoded, as the README's curl sends it.
    response = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD, **extra})
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    return response.json()


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def test_only_a_hash_of_the_token_is_stored_and_the_token_works():
    user = make_user("alice")
    body = issue(user, name="deploy script")
    secret = body["token"]
    assert set(body) == {"token", "id", "expires_at"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM console_apitoken")
        rows = repr(cursor.fetchall())
    assert secret not in rows
    assert hashlib.sha256(secret.encode()).hexdigest() in rows
    assert all(secret not in str(e.before) + str(e.after) for e in AuditEvent.objects.all())
    assert bearer(secret).get("/api/v1/projects/").status_code == 200
    token = ApiToken.objects.get(pk=body["id"])
    assert token.name == "deploy script" and token.last_used_at is not None
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)


def test_an_expired_token_is_refused():
    user = make_user("alice")
    body = issue(user)
    ApiToken.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = bearer(body["token"]).get("/api/v1/projects/")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_owners_list_and_revoke_their_own_tokens_only():
    alice, bob = make_user("alice"), make_user("bob")
    first, second = issue(alice), issue(alice)
    bobs = issue(bob)
    api = bearer(first["token"])
    listed = api.get("/api/v1/auth/tokens/").json()
    assert [t["id"] for t in listed] == [second["id"], first["id"]]
    assert all("token" not in t and "secret_hash" not in t for t in listed)
    # Someone else's token is not even found.
    assert api.post(f"/api/v1/auth/tokens/{bobs['id']}/revoke/").status_code == 404
    revoked = api.post(f"/api/v1/auth/tokens/{second['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["is_active"] is False
    assert bearer(second["token"]).get("/api/v1/projects/").status_code == 401
    assert api.post(f"/api/v1/auth/tokens/{second['id']}/revoke/").status_code == 409
    assert bearer(bobs["token"]).get("/api/v1/projects/").status_code == 200
    assert AuditEvent.objects.filter(action="api_token.revoke", target_id=str(second["id"])).count() == 1
    # A token can revoke itself (signing out a script).
    assert api.post(f"/api/v1/auth/tokens/{first['id']}/revoke/").status_code == 200
    assert api.get("/api/v1/auth/tokens/").status_code == 401


def test_a_deactivated_user_s_tokens_stop_working():
    user = make_user("alice")
    secret = issue(user)["token"]
    user.is_active = False
    user.save()
    assert bearer(secret).get("/api/v1/projects/").status_code == 401


def test_the_former_plaintext_tokens_are_converted_to_hashes():
    """Migration 0002 turns rest_framework.authtoken rows into hashed ApiTokens and deletes the plaintext."""
    import importlib

    from django.apps import apps as global_apps
    from django.db import connection as conn

    user = make_user("alice")
    plaintext = "0123456789abcdef0123456789abcdef01234567"
    with conn.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer, created timestamp)")
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, now())", [plaintext, user.pk])
    migration = importlib.import_module("console.migrations.0002_authhard")
    with conn.schema_editor() as editor:
        migration.hash_plaintext_api_tokens(global_apps, editor)
    with conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
    assert bearer(plaintext).get("/api/v1/projects/").status_code == 200
