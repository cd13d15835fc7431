"""Who may do what, and how they prove it: self-service, CI triggers and webhooks, API tokens,
OpenID Connect sign-in."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from console.settings.environment import env, env_bool, env_float, env_int
from console.settings.integrations import OIDC_ORGANIZATION_GROUP_PATTERN, OIDC_PROJECT_GROUP_PATTERN
from console.settings.web import REST_FRAMEWORK

# Whether any signed-in user may create an organization (otherwise staff only).
ORGANIZATION_SELF_SERVICE = env_bool("DSO_ORGANIZATION_SELF_SERVICE", True)

# CI triggers and webhooks (issue #3). The CI authentication is appended to the API's authenticators so a
# CI principal reaching any other endpoint is refused with 403 instead of being treated as anonymous.
CI_TRIGGERS_ENABLED = env_bool("DSO_CI_TRIGGERS_ENABLED", True)
if CI_TRIGGERS_ENABLED:
    REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"].append("console.api.ci_auth.CiAuthentication")
CI_JWKS_CACHE_SECONDS = env_int("DSO_CI_JWKS_CACHE_SECONDS", 300)
CI_JWKS_TIMEOUT_SECONDS = env_float("DSO_CI_JWKS_TIMEOUT_SECONDS", 5.0)
CI_JWT_LEEWAY_SECONDS = env_int("DSO_CI_JWT_LEEWAY_SECONDS", 30)
# GitLab id_tokens live minutes (a job's duration): one valid for longer than this is refused, so a token
# minted with a long expiry and leaked cannot be replayed for months.
CI_JWT_MAX_LIFETIME_SECONDS = env_int("DSO_CI_JWT_MAX_LIFETIME_SECONDS", 2 * 3600, minimum=60)
WEBHOOK_MAX_BODY_BYTES = env_int("DSO_WEBHOOK_MAX_BODY_BYTES", 1024 * 1024, minimum=1)

# A delivery id (X-Gitlab-Event-UUID, X-GitHub-Delivery) seen within this long is answered as a replay.
WEBHOOK_DELIVERY_RETENTION_SECONDS = env_int("DSO_WEBHOOK_DELIVERY_RETENTION_SECONDS", 7 * 24 * 3600, minimum=60)
# User API tokens (`Authorization: Token ...`) expire this many days after they are issued.
API_TOKEN_LIFETIME_DAYS = env_int("DSO_API_TOKEN_LIFETIME_DAYS", 30, minimum=1)
# Personal tokens (portal, POST auth/tokens/) choose their own lifetime, up to this.
API_TOKEN_MAX_LIFETIME_DAYS = env_int("DSO_API_TOKEN_MAX_LIFETIME_DAYS", max(365, API_TOKEN_LIFETIME_DAYS),
                                      minimum=1)
if API_TOKEN_MAX_LIFETIME_DAYS < API_TOKEN_LIFETIME_DAYS:
    raise ImproperlyConfigured("DSO_API_TOKEN_MAX_LIFETIME_DAYS must be at least DSO_API_TOKEN_LIFETIME_DAYS")

# --- OpenID Connect sign-in (issue #11) -------------------------------------------------------------
# On when an issuer (or a discovery URL) is set: the login page leads with the provider, local accounts stay
# for the embedded default and break-glass admins. Authorization code flow with PKCE (S256).
OIDC_ISSUER = (env("DSO_OIDC_ISSUER", "") or "").rstrip("/")
# Defaults to <issuer>/.well-known/openid-configuration.
OIDC_DISCOVERY_URL = env("DSO_OIDC_DISCOVERY_URL", "")
OIDC_CLIENT_ID = env("DSO_OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = env("DSO_OIDC_CLIENT_SECRET", "")
OIDC_SCOPES = env("DSO_OIDC_SCOPES", "openid profile email")
OIDC_GROUPS_CLAIM = env("DSO_OIDC_GROUPS_CLAIM", "groups")
OIDC_USERNAME_CLAIM = env("DSO_OIDC_USERNAME_CLAIM", "preferred_username")
# Groups map to roles through OIDC_ORGANIZATION_GROUP_PATTERN and OIDC_PROJECT_GROUP_PATTERN (above), the
# same patterns that bind the generated Argo CD AppProject roles to groups.
# Members of this group are platform admins (staff) while they are in it; empty: none through groups.
OIDC_ADMIN_GROUP = env("DSO_OIDC_ADMIN_GROUP", "dso/admin")
OIDC_PROVIDER_NAME = env("DSO_OIDC_PROVIDER_NAME", "single sign-on")
OIDC_TIMEOUT_SECONDS = env_float("DSO_OIDC_TIMEOUT_SECONDS", 10.0)
OIDC_LEEWAY_SECONDS = env_int("DSO_OIDC_LEEWAY_SECONDS", 60)
OIDC_METADATA_CACHE_SECONDS = env_int("DSO_OIDC_METADATA_CACHE_SECONDS", 3600)
# A first OIDC sign-in whose username is already a local account takes it over only when this is on;
# otherwise it is refused, so nobody at the provider can become the break-glass `admin`.
OIDC_LINK_EXISTING_USERS = env_bool("DSO_OIDC_LINK_EXISTING_USERS", False)
if OIDC_ISSUER or OIDC_DISCOVERY_URL:
    if not (OIDC_CLIENT_ID and OIDC_CLIENT_SECRET):
        raise ImproperlyConfigured("DSO_OIDC_ISSUER needs DSO_OIDC_CLIENT_ID and DSO_OIDC_CLIENT_SECRET")
    if "openid" not in OIDC_SCOPES.split():
        raise ImproperlyConfigured(f"DSO_OIDC_SCOPES={OIDC_SCOPES!r} must include openid")


def _check_group_patterns() -> None:
    from provisioning.group_patterns import PatternError, compile_pattern

    try:
        compile_pattern(OIDC_ORGANIZATION_GROUP_PATTERN, project=False)
        compile_pattern(OIDC_PROJECT_GROUP_PATTERN, project=True)
    except PatternError as error:
        raise ImproperlyConfigured(f"DSO_OIDC_*_GROUP_PATTERN: {error}") from None


_check_group_patterns()
