"""Django admin: every model, filters and search, and actions that call the same services as the API."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.forms.models import model_to_dict
from django.shortcuts import redirect

from console.models import (
    AuditEvent, Membership, Organization, Project, ProvisioningRun, RefChange, Repository, SyncRun, Trigger,
)
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import DomainError
from console.services.projects import project_provision_request
from console.services.repositories import EDITABLE_FIELDS, repository_register, repository_remove, repository_update
from console.services.syncs import sync_request


# The navigation sidebar takes 275 px from every list; at 1280 px the run lists need them (the
# breadcrumbs and the index page still lead everywhere).
admin.site.enable_nav_sidebar = False


def admin_actor(request) -> Actor:
    return Actor.for_user(request.user, AuditEvent.Interface.ADMIN)


def _snapshot(obj) -> dict:
    data = model_to_dict(obj, exclude=["token"])
    return {key: value if isinstance(value, (str, int, float, bool, list, dict, type(None))) else str(value)
            for key, value in data.items()}


class AuditedAdmin(admin.ModelAdmin):
    """Direct edits in the admin are changes like any other: each leaves an audit event."""

    def save_model(self, request, obj, form, change):
        before = _snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        audit_record(actor=admin_actor(request), action=f"{obj._meta.model_name}.admin_{'change' if change else 'add'}",
                     target=obj, before=before, after=_snapshot(obj))

    def delete_model(self, request, obj):
        audit_record(actor=admin_actor(request), action=f"{obj._meta.model_name}.admin_delete", target=obj,
                     before=_snapshot(obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "project", "role"]


@admin.register(Organization)
class OrganizationAdmin(AuditedAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(Project)
class ProjectAdmin(AuditedAdmin):
    list_display = ["slug", "organization", "name", "status", "namespace", "created_at"]
    list_filter = ["status", "organization"]
    search_fields = ["slug", "name", "organization__slug", "namespace"]
    readonly_fields = ["status", "namespace", "argocd_credentials", "created_at", "updated_at"]
    exclude = ["argocd_username", "argocd_token"]
    actions = ["reprovision"]

    @admin.display(description="Argo CD credentials")
    def argocd_credentials(self, project):
        from django.utils.html import format_html

        from console.services.provisioning import project_argocd_credentials

        if not project.pk:
            return "-"
        credentials = project_argocd_credentials(project)
        if not credentials["password"]:
            return "not created yet: provision the project"
        return format_html("{} — username <code>{}</code>, password <code>{}</code> (for {})", credentials["kind"],
                           credentials["username"], credentials["password"], credentials["url_prefix"])

    @admin.action(description="Re-provision selected projects")
    def reprovision(self, request, queryset):
        for project in queryset.select_related("organization"):
            try:
                queued = project_provision_request(actor=admin_actor(request), project=project, trigger=Trigger.ADMIN)
                verb = "queued" if queued.created else "joined"
                # The admin capitalizes every message: start with a word, not with the project's path.
                self.message_user(request, f"Project {project}: {verb} provisioning run #{queued.run.pk}")
            except DomainError as error:
                self.message_user(request, f"Project {project}: {error.message}", level=messages.ERROR)


class RepositoryAdminForm(forms.ModelForm):
    token = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False),
        help_text="write-only: leave empty to keep the stored token",
    )

    class Meta:
        model = Repository
        fields = "__all__"

    def clean_token(self):
        # An empty field keeps the stored secret; the admin never shows it back.
        return self.cleaned_data["token"] or (self.instance.token if self.instance.pk else "")


@admin.register(Repository)
class RepositoryAdmin(AuditedAdmin):
    """Adding, editing and deleting go through the same services as the portal and the API."""

    form = RepositoryAdminForm
    list_display = ["name", "project", "external_url", "is_infra", "deploy_kind", "is_private", "created_at"]
    list_filter = ["is_infra", "deploy_kind", "is_private", "project__organization"]
    search_fields = ["name", "external_url", "project__slug", "internal_path"]
    readonly_fields = ["internal_path", "internal_url", "default_branch", "images_scanned_sha", "created_at"]
    actions = ["sync", "remove"]

    def get_readonly_fields(self, request, obj=None):
        # The name and project make the internal path: fixed once registered.
        return [*self.readonly_fields, "project", "name"] if obj is not None else self.readonly_fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # "remove" below archives the mirror through the service
        return actions

    def save_model(self, request, obj, form, change):
        actor, data = admin_actor(request), form.cleaned_data
        fields = {name: data[name] for name in EDITABLE_FIELDS if name in data}
        if not form.data.get(form.add_prefix("token")):
            fields.pop("token", None)  # empty means "keep the stored token", so it is not a change
        if change:
            repository = Repository.objects.select_related("project__organization").get(pk=obj.pk)
            repository = repository_update(actor=actor, repository=repository, **fields)
            ci_changes = {name: data[name] for name in ("ci_allowed_project_paths", "ci_protected_refs_only")
                          if name in form.changed_data}
            if ci_changes:
                from console.services.ci_tokens import repository_ci_settings_update

                repository_ci_settings_update(actor=actor, repository=repository, **ci_changes)
        else:
            repository = repository_register(actor=actor, project=data["project"], name=data["name"], **fields)
        obj.pk, obj._state.adding = repository.pk, False
        obj.refresh_from_db()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            # The service said no (e.g. a new host without the token): show why and keep nothing.
            self.message_user(request, f"Repository not saved: {error.message}", level=messages.ERROR)
            return redirect(request.get_full_path())

    def delete_model(self, request, obj):
        try:
            queued = repository_remove(actor=admin_actor(request), repository=obj)
        except DomainError as error:
            request._repository_removal_error = error.message
        else:
            request._repository_removal_run = queued.run.pk

    def get_deleted_objects(self, objs, request):
        # Its history goes with the repository through the service: the run models' read-only admin must
        # not block the removal.
        deleted, model_count, _, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(), protected

    def response_delete(self, request, obj_display, obj_id):
        if getattr(request, "_repository_removal_error", None):
            self.message_user(request, f"Repository {obj_display} not removed: "
                                       f"{request._repository_removal_error}", level=messages.ERROR)
            return redirect("admin:console_repository_change", obj_id)
        self.message_user(request, f"Repository {obj_display} removed; provisioning run "
                                   f"#{request._repository_removal_run} archives its internal mirror.")
        return redirect("admin:console_repository_changelist")

    @admin.action(description="Sync selected repositories")
    def sync(self, request, queryset):
        for repository in queryset.select_related("project__organization"):
            try:
                queued = sync_request(actor=admin_actor(request), repository=repository, trigger=Trigger.ADMIN)
                verb = "queued" if queued.created else "joined"
                self.message_user(request, f"Repository {repository}: {verb} sync #{queued.run.pk}")
            except DomainError as error:
                self.message_user(request, f"Repository {repository}: {error.message}", level=messages.ERROR)

    @admin.action(description="Remove selected repositories (archives their internal mirrors)",
                  permissions=["delete"])
    def remove(self, request, queryset):
        for repository in queryset.select_related("project__organization"):
            try:
                queued = repository_remove(actor=admin_actor(request), repository=repository)
                self.message_user(request, f"Repository {repository} removed; provisioning run "
                                           f"#{queued.run.pk} archives its internal mirror")
            except DomainError as error:
                self.message_user(request, f"Repository {repository}: {error.message}", level=messages.ERROR)


class RefChangeInline(admin.TabularInline):
    model = RefChange
    extra = 0
    can_delete = False
    readonly_fields = ["ref", "kind", "old_sha", "new_sha"]

    def has_add_permission(self, request, obj=None):
        return False


class RunAdmin(admin.ModelAdmin):
    """Runs are history: readable, filterable, never edited or deleted by hand."""

    list_filter = ["status", "trigger"]
    date_hierarchy = "queued_at"

    class Media:
        css = {"all": ["console/admin.css"]}

    @admin.display(description="queued", ordering="queued_at")
    def queued(self, run):
        return run.queued_at.strftime("%Y-%m-%d %H:%M:%S") if run.queued_at else "-"

    @admin.display(description="duration")
    def duration(self, run):
        seconds = run.duration_seconds
        return f"{seconds:.1f} s" if seconds is not None else "-"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(RunAdmin):
    # Compact enough for 1280 px beside the admin's filters.
    list_display = ["id", "repository", "trigger", "status", "image_scan_status", "queued", "duration", "error_code"]
    list_filter = ["status", "image_scan_status", "trigger"]
    search_fields = ["repository__name", "repository__project__slug", "error_message", "head_sha"]
    inlines = [RefChangeInline]


@admin.register(ProvisioningRun)
class ProvisioningRunAdmin(RunAdmin):
    list_display = ["id", "project", "action", "cause_display", "trigger", "status", "queued", "error_code"]
    list_filter = ["status", "trigger", "action", "cause"]

    @admin.display(description="cause", ordering="cause")
    def cause_display(self, run):
        return run.cause_summary
    search_fields = ["project__slug", "project__organization__slug", "error_message"]


@admin.register(Membership)
class MembershipAdmin(AuditedAdmin):
    list_display = ["user", "organization", "project", "role", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__username", "organization__slug", "project__slug"]
    autocomplete_fields = ["user"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_label", "interface", "action", "target_repr"]
    list_filter = ["interface", "action", "target_type"]
    search_fields = ["actor_label", "action", "target_repr", "target_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


from console.models import CiToken, TrustedGitLabInstance  # noqa: E402 - CI triggers (issue #3)


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
