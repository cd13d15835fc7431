"""Admin pages of what the read-back pass records: read-only, since only the pass writes them."""

from __future__ import annotations

from django.contrib import admin

from console.models import BumpRollout, Deployment, DriftRecord, ReadbackPass


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["application", "project", "cluster_name", "sync_status", "health_status", "synced_revision",
                    "error_code", "observed_at"]
    list_filter = ["sync_status", "health_status", "cluster_name"]
    search_fields = ["application", "project__slug", "project__organization__slug"]
    list_select_related = ["project__organization"]


@admin.register(DriftRecord)
class DriftRecordAdmin(ReadOnlyAdmin):
    list_display = ["kind", "namespace", "name", "project", "source", "reason", "first_seen", "last_seen",
                    "resolved_at", "correction_run"]
    list_filter = ["source", "reason", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "kind", "project__slug", "project__organization__slug"]
    list_select_related = ["project__organization", "correction_run"]


@admin.register(BumpRollout)
class BumpRolloutAdmin(ReadOnlyAdmin):
    list_display = ["bump", "status", "message", "changed_at", "running_at", "notified_status"]
    list_filter = ["status"]
    list_select_related = ["bump__repository__project__organization"]


@admin.register(ReadbackPass)
class ReadbackPassAdmin(ReadOnlyAdmin):
    list_display = ["pk", "trigger", "started_at", "finished_at", "projects", "drift_open", "corrections"]
    list_filter = ["trigger"]
