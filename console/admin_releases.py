"""Admin pages of the release models (issue #12); loaded by console.admin. Changes go through the services:
a schedule is set by its service (so the platform minimum holds), a pin is lifted by the one unpin action."""

from __future__ import annotations

from django.contrib import admin, messages

from console.models import ImagePin, SyncSchedule
from console.services.errors import DomainError


def _actor(request):
    from console.admin import admin_actor

    return admin_actor(request)


@admin.register(SyncSchedule)
class SyncScheduleAdmin(admin.ModelAdmin):
    list_display = ["repository", "interval_seconds", "next_at", "failure_streak", "last_enqueued_at"]
    list_filter = ["failure_streak"]
    search_fields = ["repository__name", "repository__project__slug"]
    readonly_fields = list_display + ["updated_at"]
    list_select_related = ["repository__project__organization"]
    actions = ["switch_off"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Switch off scheduled syncs of the selected repositories")
    def switch_off(self, request, queryset):
        from console.services.schedules import sync_schedule_set

        for schedule in queryset.select_related("repository__project"):
            try:
                sync_schedule_set(actor=_actor(request), repository=schedule.repository, interval_seconds=None,
                                  enabled=False)
                self.message_user(request, f"{schedule.repository}: scheduled syncs off")
            except DomainError as error:
                self.message_user(request, f"{schedule.repository}: {error.message}", level=messages.ERROR)


@admin.register(ImagePin)
class ImagePinAdmin(admin.ModelAdmin):
    list_display = ["image", "tag", "repository", "pinned_by_label", "reason", "pinned_at", "unpinned_at",
                    "unpinned_by_label"]
    list_filter = ["unpinned_at"]
    search_fields = ["image", "tag", "repository__name", "repository__project__slug", "pinned_by_label"]
    readonly_fields = list_display + ["bump", "unpin_reason", "pinned_by"]
    list_select_related = ["repository__project__organization"]
    actions = ["unpin"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Unpin the selected images")
    def unpin(self, request, queryset):
        from console.services.pins import image_unpin

        for pin in queryset.select_related("repository__project").filter(unpinned_at__isnull=True):
            try:
                image_unpin(actor=_actor(request), repository=pin.repository, image=pin.image,
                            reason="unpinned in the admin")
                self.message_user(request, f"{pin}: unpinned")
            except DomainError as error:
                self.message_user(request, f"{pin}: {error.message}", level=messages.ERROR)


from console.models import ContainerRegistry, DiscoveredTag, RegistryWatchRun, TagPolicy, WatchedImage  # noqa: E402


class WatchedImageInline(admin.TabularInline):
    model = WatchedImage
    extra = 0
    fields = ["repository", "last_checked_at", "last_error_code", "last_error"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ContainerRegistry)
class ContainerRegistryAdmin(admin.ModelAdmin):
    """Registered by maintainers (portal/API, token write-only); the admin shows them and checks them now."""

    list_display = ["name", "project", "url", "username", "token_set", "created_at"]
    search_fields = ["name", "url", "project__slug", "project__organization__slug"]
    fields = ["project", "name", "url", "username", "token_set", "created_at"]
    readonly_fields = fields
    inlines = [WatchedImageInline]
    list_select_related = ["project__organization"]
    actions = ["watch_now"]

    def has_add_permission(self, request):
        return False

    @admin.display(boolean=True, description="token set")
    def token_set(self, obj):
        return obj.token_is_set

    @admin.action(description="Check the selected registries now")
    def watch_now(self, request, queryset):
        from console.models import Trigger
        from console.services.registry_watch import registry_watch_request

        for registry in queryset.select_related("project"):
            try:
                queued = registry_watch_request(actor=_actor(request), registry=registry, trigger=Trigger.ADMIN)
                self.message_user(request, f"{registry}: watch #{queued.run.pk} queued")
            except DomainError as error:
                self.message_user(request, f"{registry}: {error.message}", level=messages.ERROR)


@admin.register(TagPolicy)
class TagPolicyAdmin(admin.ModelAdmin):
    list_display = ["image", "repository", "kind", "constraint", "pattern", "include_prereleases", "auto_bump",
                    "selected_tag", "selected_at", "outcome"]
    list_filter = ["kind", "auto_bump"]
    readonly_fields = list_display
    list_select_related = ["image__registry", "repository__project"]

    def has_add_permission(self, request):
        return False


@admin.register(DiscoveredTag)
class DiscoveredTagAdmin(admin.ModelAdmin):
    list_display = ["tag", "image", "digest", "created", "discovered_at"]
    search_fields = ["tag", "digest", "image__repository"]
    readonly_fields = list_display
    list_select_related = ["image__registry"]

    def has_add_permission(self, request):
        return False


@admin.register(RegistryWatchRun)
class RegistryWatchRunAdmin(admin.ModelAdmin):
    list_display = ["id", "registry", "status", "trigger", "queued_at", "finished_at", "error_code"]
    list_filter = ["status", "trigger"]
    readonly_fields = [field.name for field in RegistryWatchRun._meta.fields]
    list_select_related = ["registry__project"]

    def has_add_permission(self, request):
        return False


from console.models import NotificationDelivery, NotificationTarget  # noqa: E402


@admin.register(NotificationTarget)
class NotificationTargetAdmin(admin.ModelAdmin):
    """Created by maintainers (API; the webhook secret shown once); the admin shows them, never the secret."""

    list_display = ["project", "kind", "url", "emails", "events", "enabled", "created_at"]
    list_filter = ["kind", "enabled"]
    fields = list_display
    readonly_fields = list_display
    list_select_related = ["project__organization"]

    def has_add_permission(self, request):
        return False


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "target", "event", "status", "attempts", "response_status", "created_at", "delivered_at"]
    list_filter = ["status", "event"]
    readonly_fields = [field.name for field in NotificationDelivery._meta.fields]
    list_select_related = ["target__project"]

    def has_add_permission(self, request):
        return False


from console.models import BumpMergeRequest, MergeRequestSettings  # noqa: E402


@admin.register(MergeRequestSettings)
class MergeRequestSettingsAdmin(admin.ModelAdmin):
    list_display = ["repository", "enabled", "gitlab_url", "project_path"]
    readonly_fields = list_display
    list_select_related = ["repository__project"]

    def has_add_permission(self, request):
        return False


@admin.register(BumpMergeRequest)
class BumpMergeRequestAdmin(admin.ModelAdmin):
    list_display = ["bump", "iid", "url", "state", "merge_commit_sha", "opened_at", "closed_at", "completed_at"]
    list_filter = ["state"]
    readonly_fields = [field.name for field in BumpMergeRequest._meta.fields]
    list_select_related = ["bump__repository"]

    def has_add_permission(self, request):
        return False
