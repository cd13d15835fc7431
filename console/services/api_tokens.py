"""Users' API tokens: issued for a username and password, shown once, stored as a SHA-256, expiring.

`POST /api/v1/auth/token/` issues a new token on every successful call (the old ones keep working until
they expire or are revoked: a stored hash cannot be handed out again). A user sees and revokes their own
tokens; platform admins may revoke anyone's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from console.models import ApiToken
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import Conflict, DomainError, PermissionDenied

SECRET_PREFIX = "dsoapi_"
SHOWN_PREFIX_LENGTH = 12
LAST_USED_PRECISION = timedelta(minutes=1)  # fewer writes on a hot token


def api_token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _public_state(token: ApiToken) -> dict:
    return {"name": token.name, "prefix": token.prefix, "user": token.user_id,
            "expires_at": token.expires_at.isoformat(),
            "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None}


def api_token_issue(
    *, actor: Actor, name: str = "", lifetime_days: int | None = None,
) -> tuple[ApiToken, str]:
    """A new token for the actor's own user, valid `lifetime_days` (DSO_API_TOKEN_LIFETIME_DAYS when not
    given, at most DSO_API_TOKEN_MAX_LIFETIME_DAYS); the secret is returned once and never stored.

    The same call serves `POST auth/token/` (local accounts, with their password) and personal tokens made
    in the portal or through `POST auth/tokens/` (anyone signed in, e.g. through the identity provider)."""
    user = actor.user
    if user is None or not user.is_authenticated or not user.is_active:
        raise PermissionDenied(_("only an active user can hold an API token"))
    if lifetime_days is None:
        lifetime_days = settings.API_TOKEN_LIFETIME_DAYS
    if not isinstance(lifetime_days, int) or not 1 <= lifetime_days <= settings.API_TOKEN_MAX_LIFETIME_DAYS:
        raise DomainError({"lifetime_days": [
            _("a token lives from 1 to %(days)s days") % {"days": settings.API_TOKEN_MAX_LIFETIME_DAYS}]},
            code="invalid_lifetime")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=(name or "")[:100], prefix=secret[:SHOWN_PREFIX_LENGTH],
            secret_hash=api_token_hash(secret),
            expires_at=timezone.now() + timedelta(days=lifetime_days),
        )
        audit_record(actor=actor, action="api_token.issue", target=token, after=_public_state(token))
    return token, secret


def api_tokens_of(*, actor: Actor):
    return ApiToken.objects.filter(user=actor.user).order_by("-created_at", "-id")


def api_token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    if token.user_id != getattr(actor.user, "pk", None) and not actor.is_staff:
        raise PermissionDenied(_("only the token's owner or a platform admin can revoke it"))
    if token.revoked_at is not None:
        raise Conflict(_("this API token is already revoked"))
    before = _public_state(token)
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="api_token.revoke", target=token, before=before,
                     after=_public_state(token))
    return token


def api_token_authenticate(secret: str) -> ApiToken | None:
    """The active token with this secret (its user active too), or None."""
    if len(secret) > 200:
        return None
    digest = api_token_hash(secret)
    token = ApiToken.objects.select_related("user").filter(secret_hash=digest).first()
    if token is None or not hmac.compare_digest(token.secret_hash, digest) or not token.is_active:
        return None
    if not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
