"""Sign-in through a real OpenID Connect provider on loopback (tests.doubles.oidc): discovery, the
authorization code flow with PKCE through the provider's login form, the callback, the ID token's checks,
sign-out at both ends, and the pages a refusing or absent provider gives."""

from __future__ import annotations

import jwt
import pytest
import requests
from django.contrib.auth import get_user_model

from console.models import AuditEvent, Membership, OidcIdentity, Role
from tests.console.oidc.support import query, sign_in, start
from tests.factories import make_organization, make_project, make_user

pytestmark = pytest.mark.django_db


def test_login_page_leads_with_the_provider_and_keeps_local_accounts(client, oidc_provider):
    page = client.get("/accounts/login/?next=/projects/1/").content.decode()
    assert 'id="oidc-sign-in"' in page and "Sign in with Test identity provider" in page
    assert page.index('id="oidc-sign-in"') < page.index('name="password"')
    assert "/oidc/login/?next=%2Fprojects%2F1%2F" in page


def test_login_page_without_oidc_is_the_local_form(client, settings):
    settings.OIDC_ISSUER = settings.OIDC_DISCOVERY_URL = ""
    page = client.get("/accounts/login/").content.decode()
    assert "oidc-sign-in" not in page and 'name="password"' in page
    assert client.get("/oidc/login/").status_code == 404


def test_authorization_request_uses_pkce_s256_state_and_nonce(client, oidc_provider):
    params = query(start(client))
    assert params["response_type"] == "code" and params["client_id"] == oidc_provider.client_id
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) >= 43
    assert params["state"] and params["nonce"] and set(params["scope"].split()) >= {"openid", "profile", "email"}
    assert params["redirect_uri"] == "http://testserver/oidc/callback/"


def test_sign_in_creates_the_user_from_verified_claims_and_maps_groups(client, oidc_provider):
    acme = make_organization("acme")
    shop = make_project(acme, "shop")
    make_organization("globex")
    user = oidc_provider.create_user("alice", "pw-alice-1", first_name="Alice", last_name="Liddell",
                                     groups=["dso/acme/maintainer", "/dso/globex/shop/owner", "dso/acme/shop/owner",
                                             "dso/nowhere/owner", "unrelated"])
    response = sign_in(client, oidc_provider, user, next_url="/organizations/acme/")
    assert response.status_code == 302 and response["Location"] == "/organizations/acme/"

    alice = get_user_model().objects.get(username="alice")
    assert not alice.has_usable_password() and alice.email == "alice@example.test"
    assert (alice.first_name, alice.last_name, alice.is_staff) == ("Alice", "Liddell", False)
    identity = OidcIdentity.objects.get(user=alice)
    assert identity.issuer == oidc_provider.issuer and identity.subject == user.sub
    assert "dso/acme/maintainer" in identity.groups
    roles = {(m.organization.slug, m.project.slug if m.project else None): (m.role, m.source)
             for m in Membership.objects.filter(user=alice)}
    # globex has no project "shop" and "nowhere" does not exist: nothing for them.
    assert roles == {("acme", None): (Role.MAINTAINER, "oidc"), ("acme", "shop"): (Role.OWNER, "oidc")}
    assert client.get("/").status_code == 200
    assert client.get(f"/projects/{shop.pk}/").status_code == 200
    assert AuditEvent.objects.filter(action="oidc_identity.link", actor=alice).exists()


def test_the_id_token_kept_for_logout_is_the_providers_signed_one(client, oidc_provider):
    user = oidc_provider.create_user("erin", "pw-erin-1")
    sign_in(client, oidc_provider, user)
    id_token = client.session["oidc_id_token"]
    jwks = jwt.PyJWKClient(f"{oidc_provider.issuer}/jwks")
    claims = jwt.decode(id_token, jwks.get_signing_key_from_jwt(id_token).key, algorithms=["RS256"],
                        audience=oidc_provider.client_id, issuer=oidc_provider.issuer)
    assert claims["sub"] == user.sub and claims["preferred_username"] == "erin"


def test_a_second_sign_in_finds_the_same_user_by_subject(client, oidc_provider):
    user = oidc_provider.create_user("bob", "pw-bob-1")
    sign_in(client, oidc_provider, user)
    client.logout()
    sign_in(client, oidc_provider, user)
    assert get_user_model().objects.filter(username="bob").count() == 1
    assert OidcIdentity.objects.count() == 1


def test_group_changes_apply_at_the_next_sign_in_and_console_roles_stay(client, oidc_provider):
    acme = make_organization("acme")
    shop = make_project(acme, "shop")
    web = make_project(acme, "web")
    user = oidc_provider.create_user("carol", "pw-carol-1", groups=["dso/acme/owner", "dso/acme/shop/developer",
                                                                  "dso/admin"])
    sign_in(client, oidc_provider, user)
    carol = get_user_model().objects.get(username="carol")
    assert carol.is_staff and carol.is_superuser
    Membership.objects.create(user=carol, organization=acme, project=web, role=Role.READER)  # given in the console
    make_user("other-owner")
    Membership.objects.create(user=get_user_model().objects.get(username="other-owner"), organization=acme,
                              role=Role.OWNER)

    oidc_provider.set_groups("carol", ["dso/acme/shop/maintainer"])
    client.logout()
    sign_in(client, oidc_provider, user)
    carol.refresh_from_db()
    assert not carol.is_staff and not carol.is_superuser
    roles = {(m.project_id, m.role, m.source) for m in Membership.objects.filter(user=carol)}
    assert roles == {(shop.pk, Role.MAINTAINER, "oidc"), (web.pk, Role.READER, "console")}
    assert AuditEvent.objects.filter(action="membership.remove", target_type="console.membership").exists()


def test_hand_given_staff_is_not_taken_away_by_groups(client, oidc_provider, settings):
    settings.OIDC_LINK_EXISTING_USERS = True
    make_user("dora", staff=True)
    user = oidc_provider.create_user("dora", "pw-dora-1", groups=[])
    assert sign_in(client, oidc_provider, user).status_code == 302
    assert get_user_model().objects.get(username="dora").is_staff


def test_a_local_account_is_not_taken_over_by_a_provider_user_of_the_same_name(client, oidc_provider):
    make_user("admin", staff=True)
    user = oidc_provider.create_user("admin", "pw-admin-1", groups=["dso/admin"])
    response = sign_in(client, oidc_provider, user)
    assert response.status_code == 403
    assert "local console account named &#x27;admin&#x27; already exists" in response.content.decode()
    assert "_auth_user_id" not in client.session and not OidcIdentity.objects.exists()


def test_sign_out_ends_the_provider_session_too(client, oidc_provider):
    user = oidc_provider.create_user("frank", "pw-frank-1")
    browser = requests.Session()
    sign_in(client, oidc_provider, user, browser=browser)
    assert oidc_provider.signed_in() == ["frank"]
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    end_session = response["Location"]
    assert end_session.startswith(f"{oidc_provider.issuer}/end-session")
    assert query(end_session)["id_token_hint"] == client.session.get("oidc_id_token", query(end_session)["id_token_hint"])
    back = browser.get(end_session, allow_redirects=False, timeout=10)
    assert back.status_code == 302 and back.headers["Location"].startswith("http://testserver/accounts/login/")
    assert oidc_provider.signed_in() == []
    assert "_auth_user_id" not in client.session
    # Signing in again needs the password at the provider again.
    again = browser.get(start(client), allow_redirects=False, timeout=10)
    assert again.status_code == 302 and "/accounts/login/" in again.headers["Location"]


@pytest.mark.parametrize("mode, reason", [
    ("expired", "has expired"),
    ("tampered", "signature does not match"),
    ("wrong_audience", "aud claim"),
])
def test_a_bad_id_token_is_refused_and_nobody_is_signed_in(client, oidc_provider, mode, reason):
    make_organization("acme")
    user = oidc_provider.create_user("mallory", "pw-mallory-1", groups=["dso/acme/reader"])
    oidc_provider.set_mode(mode)
    response = sign_in(client, oidc_provider, user)
    page = response.content.decode()
    assert response.status_code == 400, page[:800]
    assert "Sign-in refused" in page and reason in page and "oidc_invalid_id_token" in page
    assert "_auth_user_id" not in client.session
    assert not get_user_model().objects.filter(username="mallory").exists()
    assert not Membership.objects.exists()


def test_a_replayed_callback_is_refused(client, oidc_provider):
    user = oidc_provider.create_user("gina", "pw-gina-1")
    authorize_url = start(client)
    callback = oidc_provider.sign_in(requests.Session(), authorize_url, user)
    assert client.get(callback).status_code == 302
    client.logout()
    replay = client.get(callback)
    assert replay.status_code == 400 and "does not belong to a sign-in started here" in replay.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_provider_saying_no_is_a_clear_page(client, oidc_provider):
    start(client)
    state = [key for key in client.session.keys() if key.startswith("_state_")][0].split("_state_dso_")[-1]
    response = client.get("/oidc/callback/", {"error": "access_denied", "state": state})
    assert response.status_code == 400 and "did not let you in" in response.content.decode()


def test_a_provider_that_is_down_gives_a_clear_page_not_a_500(client, oidc_provider):
    oidc_provider.stop()
    response = client.get("/oidc/login/")
    page = response.content.decode()
    assert response.status_code == 503
    assert "The identity provider cannot be reached" in page and "refused the connection" in page
    assert "Sign in with a local account" in page


def test_a_provider_that_goes_down_before_the_callback_gives_a_clear_page(client, oidc_provider):
    user = oidc_provider.create_user("hank", "pw-hank-1")
    callback = oidc_provider.sign_in(requests.Session(), start(client), user)
    oidc_provider.stop()  # the discovery document is cached: the token endpoint is what fails
    response = client.get(callback)
    assert response.status_code == 503 and "cannot be reached" in response.content.decode()


def test_an_issuer_that_does_not_match_discovery_is_refused(client, oidc_provider, settings):
    settings.OIDC_DISCOVERY_URL = oidc_provider.discovery_url
    settings.OIDC_ISSUER = "https://elsewhere.example"
    response = client.get("/oidc/login/")
    assert response.status_code == 503 and "oidc_issuer_mismatch" in response.content.decode()


def test_groups_only_in_userinfo_are_read_from_there(client, oidc_provider, settings):
    settings.OIDC_SCOPES = "openid profile email groups"
    make_organization("acme")
    user = oidc_provider.create_user("ursula", "pw-ursula-1", groups=["dso/acme/developer"])
    oidc_provider.set_mode("userinfo_groups")
    assert sign_in(client, oidc_provider, user).status_code == 302
    assert Membership.objects.get(user__username="ursula").role == Role.DEVELOPER
    assert OidcIdentity.objects.get().groups == ["dso/acme/developer"]
