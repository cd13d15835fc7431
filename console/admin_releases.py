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
