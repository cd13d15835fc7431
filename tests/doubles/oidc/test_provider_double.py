"""The provider double itself, spoken to as any relying party would (Authlib's requests client): discovery,
the code flow with PKCE through the login form, RS256 ID tokens verified against the JWKS, misbehaviour."""

from __future__ import annotations

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.doubles.oidc import ProviderUser
from tests.doubles.oidc.fixtures import oidc_provider_process  # noqa: F401 - fixture

CALLBACK = "http://testserver/oidc/callback/"


@pytest.fixture
def provider(oidc_provider_process):  # noqa: F811 - fixture
    oidc_provider_process.reset()
    oidc_provider_process.allow_console("http://testserver")
    return oidc_provider_process


def _code_flow(provider, user, *, verifier="v" * 50):
    meta = requests.get(provider.discovery_url, timeout=10).json()
    client = OAuth2Session(provider.client_id, provider.client_secret, scope="openid profile email",
                           redirect_uri=CALLBACK, code_challenge_method="S256")
    authorize_url, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce="n-0S6_WzA2Mj")
    browser = requests.Session()
    callback = provider.sign_in(browser, authorize_url, user)
    return meta, client, callback, state


def test_discovery_names_the_endpoints_under_the_issuer(provider):
    meta = requests.get(provider.discovery_url, timeout=10).json()
    assert meta["issuer"] == provider.issuer
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "end_session_endpoint"):
        assert meta[name].startswith(provider.issuer + "/")


def test_code_flow_with_pkce_gives_a_signed_id_token_with_groups(provider):
    user = provider.create_user("alice", "pw-alice-1", groups=["dso/acme/owner", "other"])
    meta, client, callback, state = _code_flow(provider, user)
    assert callback.startswith(CALLBACK) and f"state={state}" in callback
    token = client.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier="v" * 50)
    signing_key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token["id_token"])
    claims = jwt.decode(token["id_token"], signing_key.key, algorithms=["RS256"], audience=provider.client_id,
                        issuer=provider.issuer)
    assert claims["sub"] == user.sub and claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["preferred_username"] == "alice" and claims["groups"] == ["dso/acme/owner", "other"]
    assert provider.signed_in() == ["alice"]


def test_the_code_is_refused_without_the_pkce_verifier(provider):
    user = provider.create_user("bob", "pw-bob-1")
    meta, client, callback, _ = _code_flow(provider, user)
    code = callback.split("code=")[1].split("&")[0]
    response = requests.post(meta["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "client_id": provider.client_id, "client_secret": provider.client_secret,
        "code_verifier": "w" * 50})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_wrong_password_stays_on_the_login_form(provider):
    provider.create_user("carol", "pw-carol-1")
    with pytest.raises(AssertionError, match="refused the sign-in"):
        _code_flow(provider, ProviderUser("carol", "nope", sub=""))


@pytest.mark.parametrize("mode, error", [("expired", jwt.ExpiredSignatureError),
                                         ("tampered", jwt.InvalidSignatureError),
                                         ("wrong_audience", jwt.InvalidAudienceError)])
def test_misbehaving_modes_give_tokens_a_client_must_refuse(provider, mode, error):
    user = provider.create_user("dave", "pw-dave-1")
    provider.set_mode(mode)
    meta, client, callback, _ = _code_flow(provider, user)
    token = client.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier="v" * 50)
    signing_key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token["id_token"])
    with pytest.raises(error):
        jwt.decode(token["id_token"], signing_key.key, algorithms=["RS256"], audience=provider.client_id,
                   issuer=provider.issuer)
