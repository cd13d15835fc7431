"""Django admin: every model, filters and search, and actions that call the same services as the API.

Adding or editing an organization, project, repository or membership calls the same service as the portal
and the API (so provisioning, the new-host token guard and every other rule apply); a refusal is shown as
an error message and nothing is saved. Fields a service cannot change (slugs, names that paths derive from)
are read-only once the object exists.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _

from console.models import (
    AuditEvent, Membership, Organization, Project, ProvisioningRun, RefChange, Repository, SyncRun,
    Trigger,
)
from console.admin_clusters import ProjectAdminForm, move_if_changed
from console.admin_locks import lock_projects, unlock_projects
from console.models.quotas import QUOTA_RESOURCES
from console.services.actors import Actor
from console.services.audit import audit_record, audit_snapshot
from console.services.errors import DomainError
from console.services.projects import project_provision_request
from console.services.repositories import EDITABLE_FIELDS, repository_register, repository_remove, repository_update
from console.services.syncs import sync_request


# The navigation sidebar takes 275 px from every list; at 1280 px the run lists need them (the
# breadcrumbs and the index page still lead everywhere).
admin.site.enable_nav_sidebar = False


def admin_actor(request) -> Actor:
    return Actor.for_user(request.user, AuditEvent.Interface.ADMIN)


def _error_text(error: DomainError) -> str:
    if isinstance(error.message, dict):
        return "; ".join(f"{field}: {' '.join(map(str, problems)) if isinstance(problems, list) else problems}"
                         for field, problems in error.message.items())
    return str(error.message)


def _adopt(obj, saved) -> None:
    """Make the admin's unsaved instance the one the service saved (the admin redirects to obj.pk)."""
    obj.__dict__.update(saved.__dict__)


class AuditedAdmin(admin.ModelAdmin):
    """Direct edits in the admin are changes like any other: each leaves an audit event."""

    def changeform_view(self, request, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except DomainError as error:
            # Raised by a service inside the admin's transaction, which is rolled back: nothing was saved.
            self.message_user(request, f"Not saved: {_error_text(error)}", level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        before = audit_snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        audit_record(actor=admin_actor(request), action=f"{obj._meta.model_name}.admin_{'change' if change else 'add'}",
                     target=obj, before=before, after=audit_snapshot(obj))

    def delete_view(self, request, *args, **kwargs):
        try:
            return super().delete_view(request, *args, **kwargs)
        except DomainError as error:
            self.message_user(request, f"Not deleted: {_error_text(error)}", level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_model(self, request, obj):
        audit_record(actor=admin_actor(request), action=f"{obj._meta.model_name}.admin_delete", target=obj,
                     before=audit_snapshot(obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            try:
                self.delete_model(request, obj)
            except DomainError as error:
                self.message_user(request, f"{obj}: not deleted: {_error_text(error)}", level=messages.ERROR)

class MembershipInline(admin.TabularInline):
    """Shown for reference; members are managed on the membership page, through the membership service."""

    model = Membership
    extra = 0
    fields = ["user", "project", "role", "source"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(AuditedAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        # Forge groups and namespaces derive from the slug; no service renames them.
        return ["slug"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        from console.services.organizations import (
            organization_create, organization_quota_limits_set, organization_update,
        )  # fmt: skip

        actor = admin_actor(request)
        data = form.cleaned_data
        limits = {resource: data[f"quota_limit_{resource}"] for resource in QUOTA_RESOURCES
                  if f"quota_limit_{resource}" in data}  # fmt: skip
        if change:
            current = Organization.objects.get(pk=obj.pk)
            organization = organization_update(actor=actor, organization=current, name=data["name"])
        else:
            organization = organization_create(actor=actor, slug=data["slug"], name=data["name"])
        _adopt(obj, organization_quota_limits_set(actor=actor, organization=organization, limits=limits))


@admin.register(Project)
class ProjectAdmin(AuditedAdmin):
    form = ProjectAdminForm
    list_display = ["slug", "organization", "name", "status", "locked", "namespace", "cluster", "created_at"]
    list_filter = ["status", "organization", "cluster"]
    list_select_related = ["organization", "cluster"]
    search_fields = ["slug", "name", "organization__slug", "namespace"]
    readonly_fields = ["status", "namespace", "argocd_credentials", "locked_at", "locked_by", "lock_reason",
                       "created_at", "updated_at"]
    exclude = ["argocd_username", "argocd_token"]
    actions = ["reprovision", lock_projects, unlock_projects]

    @admin.display(description="Locked", boolean=True, ordering="locked_at")
    def locked(self, project):
        return project.locked_at is not None

    def get_readonly_fields(self, request, obj=None):
        # The namespace, forge group and Argo CD objects derive from organization and slug: renaming would need
        # a re-provisioning the services do not offer, so they are fixed once the project exists.
        fixed = ["organization", "slug"] if obj is not None else []
        return fixed + list(self.readonly_fields)

    def save_model(self, request, obj, form, change):
        from console.services.projects import project_create, project_update

        actor = admin_actor(request)
        data = form.cleaned_data
        quota = {resource: data[f"quota_{resource}"] for resource in QUOTA_RESOURCES if f"quota_{resource}" in data}
        if change:
            current = Project.objects.select_related("organization", "cluster").get(pk=obj.pk)
            _adopt(obj, project_update(actor=actor, project=current, name=data["name"],
                                       description=data.get("description", ""), quota=quota))
            move_if_changed(request, form, current, self.message_user)
            obj.cluster_id = current.cluster_id
        else:
            project, _ = project_create(actor=actor, organization=data["organization"], slug=data["slug"],
                                        name=data["name"], description=data.get("description", ""), quota=quota)
            move_if_changed(request, form, project, self.message_user)
            _adopt(obj, project)

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

    @property
    def token_entered(self) -> bool:
        return bool(self.data.get(self.add_prefix("token")))


@admin.register(Repository)
class RepositoryAdmin(AuditedAdmin):
    """Adding, editing and deleting go through the same services as the portal and the API."""

    form = RepositoryAdminForm
    list_display = ["name", "project", "external_url", "is_infra", "deploy_kind", "is_private", "created_at"]
    list_filter = ["is_infra", "deploy_kind", "is_private", "project__organization"]
    search_fields = ["name", "external_url", "project__slug", "internal_path"]
    readonly_fields = ["internal_path", "internal_url", "default_branch", "images_scanned_sha", "created_at"]
    actions = ["sync", "remove"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # "remove" below archives the mirror through the service
        return actions

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

    def get_readonly_fields(self, request, obj=None):
        # The internal repository's path derives from project and name.
        fixed = ["project", "name"] if obj is not None else []
        return fixed + list(self.readonly_fields)

    def save_model(self, request, obj, form, change):
        from console.services.ci_tokens import repository_ci_settings_update

        actor = admin_actor(request)
        data = form.cleaned_data
        fields = {name: data[name] for name in EDITABLE_FIELDS if name in data and name != "token"}
        if form.token_entered or not change:
            fields["token"] = data.get("token", "")
        ci = {name: data[name] for name in ("ci_allowed_project_paths", "ci_protected_refs_only") if name in data}
        if change:
            current = Repository.objects.select_related("project__organization").get(pk=obj.pk)
            changes = {name: value for name, value in fields.items()
                       if name == "token" or getattr(current, name) != value}
            repository = repository_update(actor=actor, repository=current, **changes) if changes else current
        else:
            repository = repository_register(actor=actor, project=data["project"], name=data["name"], **fields)
        if any(getattr(repository, name) != value for name, value in ci.items()):
            repository = repository_ci_settings_update(actor=actor, repository=repository, **ci)
        _adopt(obj, repository)

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
    list_display = ["user", "organization", "project", "role", "source", "created_at"]
    list_filter = ["role", "source", "organization"]
    search_fields = ["user__username", "organization__slug", "project__slug"]
    autocomplete_fields = ["user"]

    def get_readonly_fields(self, request, obj=None):
        # A role saved here is the console's (membership_set); `source` says so, it is not chosen.
        return ["user", "organization", "project", "source"] if obj is not None else ["source"]

    def save_model(self, request, obj, form, change):
        from console.services.memberships import membership_set

        data = form.cleaned_data
        user = data["user"] if not change else obj.user
        project = data.get("project") if not change else obj.project
        organization = data.get("organization") if not change else obj.organization
        if project is not None and project.organization_id != organization.pk:
            raise DomainError({"project": [_("%(project)s is not in %(organization)s") % {
                "project": project,
                "organization": organization,
            }]})
        _adopt(obj, membership_set(actor=admin_actor(request), username=user.get_username(), role=data["role"],
                                   project=project, organization=None if project is not None else organization))

    def delete_model(self, request, obj):
        from console.services.memberships import membership_remove

        membership_remove(actor=admin_actor(request), membership=obj)


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


from console import admin_access  # noqa: E402,F401 - tokens and identities, registered on import
from console import admin_deployments  # noqa: E402,F401 - read-back pages, registered on import
from console import admin_releases  # noqa: E402, F401 - registers the release models (issue #12)
