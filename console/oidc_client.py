"""The console as an OpenID Connect relying party, on Authlib: discovery, the authorization code flow with
PKCE (S256) and a nonce, and the ID token's signature (the provider's JWKS) and claims (iss, aud, exp, iat,
nonce) checked before anyone is signed in.

Foreign errors become two kinds a page can explain: ProviderUnavailable (the provider cannot be reached or
answers nonsense: try again later, or use a local account) and ProviderRefused (the provider said no, or
sent a token the console will not trust).
"""

from __future__ import annotations

import threading
import time

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.django_client import DjangoOAuth2App, OAuth
from django.conf import settings
from django.utils.translation import gettext as _
from joserfc import errors as joserfc_errors

# Authlib checks ID tokens with joserfc (signature, then claims): every refusal is one of these.
TOKEN_ERRORS = (joserfc_errors.JoseError,)


class OidcError(Exception):
    code = "oidc_error"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class ProviderUnavailable(OidcError):
    code = "oidc_provider_unavailable"


class ProviderRefused(OidcError):
    code = "oidc_refused"


def oidc_enabled() -> bool:
    return bool(settings.OIDC_ISSUER or settings.OIDC_DISCOVERY_URL)


def discovery_url() -> str:
    return settings.OIDC_DISCOVERY_URL or f"{settings.OIDC_ISSUER}/.well-known/openid-configuration"


_clients: dict[tuple, DjangoOAuth2App] = {}
_lock = threading.Lock()


def _client() -> DjangoOAuth2App:
    """One Authlib client per configuration (tests change it), its discovery document cached for
    DSO_OIDC_METADATA_CACHE_SECONDS; a failed discovery caches nothing, so the next request tries again."""
    key = (discovery_url(), settings.OIDC_CLIENT_ID, settings.OIDC_CLIENT_SECRET, settings.OIDC_SCOPES,
           settings.OIDC_TIMEOUT_SECONDS)
    with _lock:
        client = _clients.get(key)
        if client is None:
            registry = OAuth()
            client = registry.register(
                name="dso", client_id=settings.OIDC_CLIENT_ID, client_secret=settings.OIDC_CLIENT_SECRET,
                server_metadata_url=discovery_url(),
                client_kwargs={"scope": settings.OIDC_SCOPES, "code_challenge_method": "S256",
                               "default_timeout": settings.OIDC_TIMEOUT_SECONDS},
            )
            _clients.clear()  # an old configuration is never used again
            _clients[key] = client
        loaded_at = client.server_metadata.get("_loaded_at")
        if loaded_at is not None and time.time() - loaded_at > settings.OIDC_METADATA_CACHE_SECONDS:
            client.server_metadata.clear()
    return client


def _host() -> str:
    from urllib.parse import urlsplit

    return urlsplit(discovery_url()).netloc


def metadata() -> dict:
    """The provider's discovery document; its issuer must be the configured one (OpenID Connect
    Discovery §4.3), or a document from elsewhere could name endpoints the console would then trust."""
    client = _client()
    try:
        document = client.load_server_metadata()
    except (requests.RequestException, ValueError) as error:
        client.server_metadata.clear()
        raise ProviderUnavailable(_unreachable(error)) from error
    if settings.OIDC_ISSUER and document.get("issuer", "").rstrip("/") != settings.OIDC_ISSUER:
        client.server_metadata.clear()
        raise ProviderUnavailable(
            _("the identity provider says its issuer is %(found)r, not the configured %(configured)r")
            % {"found": document.get("issuer"), "configured": settings.OIDC_ISSUER},
            code="oidc_issuer_mismatch")
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not document.get(name):
            client.server_metadata.clear()
            raise ProviderUnavailable(_("the identity provider's discovery document has no %(name)s")
                                      % {"name": name}, code="oidc_bad_discovery")
    return document


def _unreachable(error: Exception) -> str:
    if isinstance(error, requests.Timeout):
        why = _("did not answer within %(seconds)g s") % {"seconds": settings.OIDC_TIMEOUT_SECONDS}
    elif isinstance(error, requests.ConnectionError):
        why = _("refused the connection or could not be reached")
    elif isinstance(error, requests.HTTPError) and error.response is not None:
        why = _("answered HTTP %(status)d") % {"status": error.response.status_code}
    else:
        why = _("answered something that is not OpenID Connect")
    return _("the identity provider at %(host)s %(why)s") % {"host": _host(), "why": why}


def authorize_redirect(request, redirect_uri: str):
    """The redirect to the provider's authorization endpoint; state, nonce and the PKCE verifier are kept
    in the session for the callback. Discovery is read afresh: a provider that is down (or moved) is found
    here, with a page that says so, rather than by the browser at an address that does not answer."""
    _client().server_metadata.clear()
    metadata()
    return _client().authorize_redirect(request, redirect_uri)


def complete(request) -> tuple[dict, str, str]:
    """Finish the callback: exchange the code (with the PKCE verifier), verify the ID token, and return its
    claims (with userinfo's when the groups claim is not in the ID token), the issuer and the raw ID token."""
    document = metadata()
    client = _client()
    try:
        token = client.authorize_access_token(
            request, leeway=settings.OIDC_LEEWAY_SECONDS,
            claims_options={"iss": {"essential": True, "values": [document["issuer"]]},
                            "aud": {"essential": True, "values": [settings.OIDC_CLIENT_ID]}},
        )
    except OAuthError as error:
        raise ProviderRefused(_oauth_refusal(error), code=f"oidc_{error.error or 'refused'}"[:60]) from error
    except TOKEN_ERRORS as error:
        raise ProviderRefused(_("the identity provider's ID token was refused: %(why)s")
                              % {"why": _token_refusal(error)}, code="oidc_invalid_id_token") from error
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(_unreachable(error)) from error
    claims = token.get("userinfo")
    if not claims or "id_token" not in token:
        raise ProviderRefused(_("the identity provider sent no ID token (is the openid scope allowed?)"),
                              code="oidc_no_id_token")
    claims = dict(claims)
    if settings.OIDC_GROUPS_CLAIM not in claims and document.get("userinfo_endpoint"):
        try:
            info = dict(client.userinfo(token=token))
        except (requests.RequestException, ValueError) as error:
            raise ProviderUnavailable(_unreachable(error)) from error
        if info.get("sub") == claims.get("sub"):  # OpenID Connect Core §5.3.2
            claims = {**info, **claims}
    return claims, document["issuer"], token["id_token"]


def _oauth_refusal(error: OAuthError) -> str:
    if error.error == "mismatching_state":
        return _("this sign-in answer does not belong to a sign-in started here (an old or copied link, or "
                 "cookies blocked); start again")
    if error.error == "access_denied":
        return _("the identity provider did not let you in")
    detail = f" ({error.description})" if error.description else ""
    return _("the identity provider refused the sign-in: %(error)s") % {"error": f"{error.error}{detail}"}


def _token_refusal(error: Exception) -> str:
    name = type(error).__name__
    if "Expired" in name:
        return _("it has expired")
    if "Signature" in name:
        return _("its signature does not match the provider's keys")
    claim = getattr(error, "claim", None) or getattr(error, "claim_name", None)
    if claim:
        return _("its %(claim)s claim is wrong") % {"claim": claim}
    return str(error) or name


def logout_url(*, id_token: str, post_logout_redirect_uri: str) -> str | None:
    """Where to send the browser to end the provider's session too (RP-initiated logout), or None when the
    provider has no end_session_endpoint or cannot be reached (the console's own session ends anyway)."""
    try:
        document = metadata()
    except ProviderUnavailable:
        return None
    if not document.get("end_session_endpoint"):
        return None
    return _client().create_logout_url(post_logout_redirect_uri=post_logout_redirect_uri,
                                       id_token_hint=id_token)["url"]
