"""Who a user is at the OpenID Connect provider: the (issuer, subject) pair the console trusts, and the
claims seen at their last sign-in, kept so `manage.py oidc_resync` can recompute roles from groups without
the user signing in again (after the group patterns change, or once the organization a group names exists)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class OidcIdentity(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="oidc_identity")
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255, help_text="the provider's `sub` claim: stable, unlike names")
    groups = models.JSONField(default=list, blank=True, help_text="the groups claim at the last sign-in")
    claims = models.JSONField(default=dict, blank=True,
                              help_text="profile claims at the last sign-in (name, email, username)")
    # Platform admin through the admin group: taken away again when the group goes, unlike a staff flag an
    # admin set by hand (which the console never touches).
    staff_from_groups = models.BooleanField(default=False)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OIDC identity"
        verbose_name_plural = "OIDC identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_unique_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.subject} at {self.issuer})"
