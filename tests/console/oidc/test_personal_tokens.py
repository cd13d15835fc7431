"""Personal API tokens: someone signed in through the identity provider (no console password) makes,
names, times and revokes tokens in the portal or the API; the console keeps only hashes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from console.models import ApiToken
from console.services.api_tokens import api_token_hash
from tests.console.oidc.support import sign_in
from tests.factories import make_organization, make_project, make_user

pytestmark = pytest.mark.django_db


def _secret(page: str) -> str:
    return re.search(r'<code class="secret">([^<]+)</code>', page).group(1)


def test_an_oidc_user_makes_a_token_in_the_portal_and_uses_it(client, oidc_provider):
    make_project(make_organization("acme"), "shop")
    user = oidc_provider.create_user("olga", "pw-olga-1", groups=["dso/acme/shop/reader"])
    sign_in(client, oidc_provider, user)
    assert client.get("/").content.decode().count('href="/tokens/"') == 1

    created = client.post("/tokens/", {"name": "deploy script", "lifetime_days": "90"})
    assert created.status_code == 302 and created["Location"] == "/tokens/"
    page = client.get("/tokens/")
    assert page["Cache-Control"] == "no-store"
    secret = _secret(page.content.decode())
    assert "copy it now" in page.content.decode()
    assert secret not in client.get("/tokens/").content.decode()  # shown once

    token = ApiToken.objects.get(user__username="olga")
    assert token.name == "deploy script" and token.secret_hash == api_token_hash(secret)
    assert timedelta(days=89, hours=23) < token.expires_at - timezone.now() <= timedelta(days=90)
    assert secret not in str(list(ApiToken.objects.values()))

    api = Client()
    projects = api.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {secret}")
    assert projects.status_code == 200 and [p["slug"] for p in projects.json()["results"]] == ["shop"]
    # No password: the username + password endpoint cannot mint one for this user.
    refused = api.post("/api/v1/auth/token/", {"username": "olga", "password": ""})
    assert refused.status_code == 400

    revoke = client.post(f"/tokens/{token.pk}/revoke/")
    assert revoke.status_code == 302
    assert "revoked" in client.get("/tokens/").content.decode()
    assert api.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {secret}").status_code == 401


def test_an_expired_token_is_refused_and_shown_expired(client):
    user = make_user("pat")
    client.force_login(user)
    client.post("/tokens/", {"name": "old", "lifetime_days": "7"})
    secret = _secret(client.get("/tokens/").content.decode())
    ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {secret}").status_code == 401
    page = client.get("/tokens/").content.decode()
    assert ">expired<" in page and "Revoke" not in page


def test_a_lifetime_past_the_maximum_is_refused_next_to_its_field(client, settings):
    settings.API_TOKEN_MAX_LIFETIME_DAYS = 30
    client.force_login(make_user("quinn"))
    response = client.post("/tokens/", {"name": "too long", "lifetime_days": "365"})
    assert response.status_code == 400 and 'id="id_lifetime_days-error"' in response.content.decode()
    assert not ApiToken.objects.exists()


def test_someone_elses_token_cannot_be_revoked_from_the_portal(client):
    owner = make_user("rita")
    token = ApiToken.objects.create(user=owner, name="x", prefix="dsoapi_x", secret_hash="a" * 64,
                                    expires_at=timezone.now() + timedelta(days=1))
    client.force_login(make_user("sam"))
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_api_makes_a_personal_token_for_a_signed_in_caller(client):
    client.force_login(make_user("tess"))
    response = client.post("/api/v1/auth/tokens/", {"name": "cli", "lifetime_days": 3},
                           content_type="application/json")
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token"].startswith("dsoapi_")
    assert ApiToken.objects.get(pk=body["id"]).name == "cli"
    too_long = client.post("/api/v1/auth/tokens/", {"name": "cli", "lifetime_days": 100000},
                           content_type="application/json")
    assert too_long.status_code == 400 and too_long.json()["code"] == "invalid_lifetime"
    assert Client().post("/api/v1/auth/tokens/", {"name": "x"}).status_code in (401, 403)


def test_the_token_list_page_has_a_constant_query_count(client, django_assert_num_queries):
    user = make_user("uma")
    client.force_login(user)
    for index in range(3):
        client.post("/tokens/", {"name": f"t{index}", "lifetime_days": "7"})
    client.get("/tokens/")  # pops the last secret
    with django_assert_num_queries(3) as few:
        client.get("/tokens/")
    for index in range(10):
        ApiToken.objects.create(user=user, name=f"more{index}", prefix=f"p{index}", secret_hash=f"{index:064d}",
                                expires_at=timezone.now() + timedelta(days=1))
    with django_assert_num_queries(len(few.captured_queries)):
        client.get("/tokens/")
