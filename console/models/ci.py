"""What lets a CI pipeline or a forge webhook trigger a sync: per-repository CI tokens and the GitLab
instances whose CI id_tokens (JWTs) are trusted."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.db.models import Q
from django.utils import timezone

from console.crypto import SecretHashField
from console.models.validators import validate_external_url


class CiScope(models.TextChoices):
    """What a CI credential may do on its repository. A token holds only the scopes it was created with."""

    SYNC = "sync", _("sync: sync the mirror")
    REPORT_BUILD = "report_build", _("report_build: report a built image of this repository")
    BUMP = "bump", _("bump: commit a new image tag to this infra repository")


def default_ci_token_scopes() -> list[str]:
    return [CiScope.SYNC.value]


KNOWN_SCOPES = ", ".join(CiScope.values)
NO_SCOPE = f"give at least one scope among: {KNOWN_SCOPES}"


def validate_ci_token_scopes(value) -> None:
    known = KNOWN_SCOPES
    if not isinstance(value, list) or not all(isinstance(scope, str) for scope in value):
        raise ValidationError(_("must be a list of scopes among: %(known)s") % {
            "known": known,
        }, code="invalid_scopes")
    if not value:
        raise ValidationError(NO_SCOPE, code="invalid_scopes")
    unknown = sorted({scope for scope in value if scope not in CiScope.values})
    if unknown:
        raise ValidationError(
            ngettext("unknown scope %(unknown)s; the scopes are: %(known)s",
                     "unknown scopes %(unknown)s; the scopes are: %(known)s", len(unknown)) % {
                "unknown": ", ".join(map(repr, unknown)), "known": known},
            code="invalid_scopes",
        )


class CiToken(models.Model):
    """A bearer secret a pipeline uses on one repository, for its scopes. Only a SHA-256 of the secret is
    stored."""

    repository = models.ForeignKey("console.Repository", on_delete=models.CASCADE, related_name="ci_tokens")
    name = models.CharField(max_length=100, help_text="what uses it, e.g. 'gitlab-ci main pipeline'")
    prefix = models.CharField(max_length=16, help_text="first characters of the secret, to recognise it")
    secret_hash = SecretHashField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(
        default=default_ci_token_scopes, validators=[validate_ci_token_scopes], error_messages={"blank": NO_SCOPE},
        help_text="what the token may do: sync, report_build, bump",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["repository_id", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["repository", "name"], condition=Q(revoked_at__isnull=True),
                name="ci_token_active_name_unique_in_repository",
            )
        ]

    def __str__(self) -> str:
        return f"CI token {self.name!r} ({self.prefix}…) of {self.repository}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    def has_scope(self, scope: str) -> bool:
        return isinstance(self.scopes, list) and scope in self.scopes


class TrustedGitLabInstance(models.Model):
    """A GitLab whose CI id_tokens are accepted; the issuer must equal the token's `iss` claim exactly."""

    name = models.CharField(max_length=100, unique=True)
    issuer = models.CharField(
        max_length=300, unique=True, validators=[validate_external_url],
        help_text="the instance URL as GitLab writes it in `iss`, e.g. https://gitlab.example.com",
    )
    jwks_url = models.CharField(
        max_length=500, blank=True, validators=[validate_external_url],
        help_text="leave empty for <issuer>/oauth/discovery/keys",
    )
    audience = models.CharField(
        max_length=200, help_text="the `aud` pipelines must request in `id_tokens`, usually the console URL"
    )
    enabled = models.BooleanField(
        default=True,
        help_text="while more than one instance is enabled, repositories must name the instance in their allowed "
                  "CI project paths ('<name>:group/project'); bare paths stop matching",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "trusted GitLab instance"

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer})"

    def save(self, *args, **kwargs):
        self.issuer = self.issuer.rstrip("/")
        super().save(*args, **kwargs)

    @property
    def effective_jwks_url(self) -> str:
        return self.jwks_url or f"{self.issuer.rstrip('/')}/oauth/discovery/keys"


class WebhookDelivery(models.Model):
    """A forge webhook delivery already acted on, by its delivery id (and, for GitHub, the digest of the
    signed body, since the id header is not signed), kept for DSO_WEBHOOK_DELIVERY_RETENTION_SECONDS so a
    replayed delivery is recognised."""

    provider = models.CharField(max_length=20)
    key = models.CharField(max_length=100, help_text="'id:<delivery id>' or 'body:<sha256 of the body>'")
    repository = models.ForeignKey("console.Repository", on_delete=models.CASCADE, related_name="+")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "key"], name="webhook_delivery_unique_per_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} delivery {self.key}"
