"""Admin pages of who and what may call the console: trusted GitLab instances, CI tokens, users' API tokens
and OpenID Connect identities. Secrets are created elsewhere (shown once) and only revoked here."""

from __future__ import annotations

from django.contrib import admin, messages

from console.admin import AuditedAdmin, admin_actor
from console.models import ApiToken, CiToken, OidcIdentity, Repository, TrustedGitLabInstance
from console.services.errors import DomainError


@admin.register(TrustedGitLabInstance)
class TrustedGitLabInstanceAdmin(AuditedAdmin):
    """GitLab instances whose CI id_tokens may trigger syncs (repositories still list allowed projects)."""

    list_display = ["name", "issuer", "audience", "enabled", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "issuer", "audience"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        enabled = TrustedGitLabInstance.objects.filter(enabled=True).count()
        if enabled > 1:
            # Bare 'group/project' entries fail closed from now on; say which repositories lose their pipelines.
            bare = [repository for repository in Repository.objects.exclude(ci_allowed_project_paths=[])
                    .select_related("project") if any(":" not in e for e in repository.ci_allowed_project_paths)]
            if bare:
                self.message_user(request, (
                    f"{enabled} GitLab instances are enabled: id_tokens no longer match bare project paths, so "
                    f"{len(bare)} repositories refuse them until a maintainer writes '<instance name>:group/project' "
                    f"({', '.join(str(r) for r in bare[:10])}{', …' if len(bare) > 10 else ''})"
                ), level=messages.WARNING)


@admin.register(CiToken)
class CiTokenAdmin(admin.ModelAdmin):
    """Tokens are created by maintainers (portal/API, secret shown once); admins may only revoke them."""

    list_display = ["name", "prefix", "repository", "scopes", "created_by", "created_at", "expires_at",
                    "revoked_at", "last_used_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "repository__name", "repository__project__slug"]
    readonly_fields = ["repository", "name", "prefix", "scopes", "created_by", "created_at", "expires_at",
                       "revoked_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected CI tokens")
    def revoke(self, request, queryset):
        from console.services.ci_tokens import ci_token_revoke

        for token in queryset.select_related("repository__project").filter(revoked_at__isnull=True):
            try:
                ci_token_revoke(actor=admin_actor(request), token=token)
                self.message_user(request, f"{token}: revoked")
            except DomainError as error:
                self.message_user(request, f"{token}: {error.message}", level=messages.ERROR)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Issued by POST /api/v1/auth/token/ (secret shown once, only a hash stored); admins may only revoke."""

    list_display = ["user", "name", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["revoked_at"]
    search_fields = ["user__username", "name", "prefix"]
    readonly_fields = list_display
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected API tokens")
    def revoke(self, request, queryset):
        from console.services.api_tokens import api_token_revoke

        for token in queryset.select_related("user").filter(revoked_at__isnull=True):
            api_token_revoke(actor=admin_actor(request), token=token)
            self.message_user(request, f"{token}: revoked")



@admin.register(OidcIdentity)
class OidcIdentityAdmin(admin.ModelAdmin):
    """Read-only: identities come from sign-ins; `manage.py oidc_resync` re-applies their stored groups."""

    list_display = ["user", "subject", "issuer", "staff_from_groups", "last_login_at"]
    list_filter = ["issuer", "staff_from_groups"]
    search_fields = ["user__username", "subject"]
    readonly_fields = ["user", "issuer", "subject", "groups", "claims", "staff_from_groups", "first_seen_at",
                       "last_login_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
