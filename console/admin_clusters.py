"""Admin for clusters (registration, the write-only token, the connection test) and the project form field
that moves a project to another cluster. Every change goes through console.services.clusters."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext as _

from console.models import Cluster, Project
from console.services.errors import DomainError


class ClusterAdminForm(forms.ModelForm):
    token = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("service-account token; write-only: leave empty to keep the stored one"),
    )

    class Meta:
        model = Cluster
        fields = "__all__"

    def clean_token(self):
        # Empty keeps the stored secret (the model's clean() sees it, e.g. for direct delivery).
        return self.cleaned_data["token"] or (self.instance.token if self.instance.pk else "")


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    form = ClusterAdminForm
    list_display = ["name", "api_url", "delivery_mode", "is_default", "self_heal", "token_set", "created_at"]
    list_filter = ["delivery_mode", "is_default", "self_heal"]
    search_fields = ["name", "api_url"]
    readonly_fields = ["created_at", "updated_at"]
    actions = ["test_connection"]

    @admin.display(boolean=True, description=_("token set"))
    def token_set(self, cluster):
        return cluster.token_is_set

    def changeform_view(self, request, *args, **kwargs):
        from console.admin import _error_text

        try:
            return super().changeform_view(request, *args, **kwargs)
        except DomainError as error:
            from django.http import HttpResponseRedirect

            self.message_user(request, _("Not saved: %s") % _error_text(error), level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        from console.admin import _adopt, admin_actor
        from console.services.clusters import EDITABLE_FIELDS, cluster_register, cluster_update

        data = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data}
        token = form.cleaned_data.get("token") or ""
        if change:
            current = Cluster.objects.get(pk=obj.pk)
            _adopt(obj, cluster_update(actor=admin_actor(request), cluster=current, token=token, **data))
        else:
            _adopt(obj, cluster_register(actor=admin_actor(request), token=token, **data))

    def delete_model(self, request, obj):
        from console.admin import admin_actor
        from console.services.clusters import cluster_remove

        cluster_remove(actor=admin_actor(request), cluster=obj)

    def delete_queryset(self, request, queryset):
        for cluster in queryset:
            try:
                self.delete_model(request, cluster)
            except DomainError as error:
                self.message_user(request, f"{cluster}: {error.message}", level=messages.ERROR)

    @admin.action(description=_("Test the connection"))
    def test_connection(self, request, queryset):
        from console.admin import admin_actor
        from console.services.clusters import cluster_test_connection

        for cluster in queryset:
            report = cluster_test_connection(actor=admin_actor(request), cluster=cluster)
            if not report["reachable"]:
                self.message_user(request, _("Cluster %(name)s: unreachable: %(error)s")
                                  % {"name": cluster.name, "error": report["error"]}, level=messages.ERROR)
                continue
            summary = _("Cluster %(name)s: Kubernetes %(version)s, %(groups)d API groups") % {
                "name": cluster.name, "version": report["server_version"], "groups": len(report["api_groups"])}
            problems = []
            if report["missing_api_groups"]:
                problems.append(_("missing API groups: %s") % ", ".join(report["missing_api_groups"]))
            if report["missing_permissions"]:
                problems.append(_("the token lacks: %s") % "; ".join(report["missing_permissions"]))
            if report["error"]:
                problems.append(report["error"])
            if problems:
                self.message_user(request, f"{summary}; {'; '.join(problems)}", level=messages.WARNING)
            else:
                self.message_user(request, _("%s; every permission the console needs is granted") % summary)


QUOTA_FIELDS = [f"quota_{resource}" for resource in ("cpu", "memory", "storage", "pods", "services")]


class ProjectAdminForm(forms.ModelForm):
    placement = forms.ModelChoiceField(
        queryset=Cluster.objects.all(), required=False, label=_("Cluster"),
        empty_label=_("platform default"),
        help_text=_("changing it moves the project: its objects are applied on the new cluster and removed "
                    "from the old one by a provisioning run"),
    )

    class Meta:
        model = Project
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["placement"].initial = self.instance.cluster_id
        # A form posted without the quota fields (an older admin page, a script) keeps the current amounts.
        for name in QUOTA_FIELDS:
            if name in self.fields:
                self.fields[name].required = False

    def clean(self):
        cleaned = super().clean()
        for name in QUOTA_FIELDS:
            if name in self.fields and cleaned.get(name) in (None, ""):
                cleaned[name] = (getattr(self.instance, name) if self.instance.pk
                                 else Project._meta.get_field(name).get_default())
                self.errors.pop(name, None)
        return cleaned

    @property
    def placement_changed(self) -> bool:
        return self.instance.pk and (self.cleaned_data.get("placement") or None) != self.instance.cluster


def move_if_changed(request, form: ProjectAdminForm, project: Project, message_user) -> None:
    from console.admin import admin_actor
    from console.services.clusters import project_move_cluster

    new = form.cleaned_data.get("placement")
    if (new.pk if new else None) == project.cluster_id:
        return
    queued = project_move_cluster(actor=admin_actor(request), project=project, cluster=new)
    if queued is not None:
        message_user(request, _("Project %(project)s: moving to %(cluster)s, provisioning run #%(run)s")
                     % {"project": project, "cluster": new or _("platform default"), "run": queued.run.pk})
