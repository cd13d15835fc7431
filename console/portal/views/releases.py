"""Release pages and actions of the portal (issue #12): the sync schedule form, pins and rollbacks."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.portal.views.common import forbidden, portal_actor, refusal
from console.portal.views.repositories import visible_repository
from console.services.errors import DomainError, PermissionDenied
from console.services.schedules import sync_schedule_set


@login_required
@require_POST
def sync_schedule_update(request, pk: int):
    repository = visible_repository(request, pk)
    if denied := refusal(request, "repository.manage", repository):
        return denied
    enabled = request.POST.get("enabled") == "on"
    raw = request.POST.get("interval_minutes", "").strip()
    back = reverse("portal:repository", args=[repository.pk]) + "#sync-schedule"
    try:
        interval = int(raw) * 60 if raw else None
    except ValueError:
        messages.error(request, _("The interval is a whole number of minutes."))
        return redirect(back)
    try:
        sync_schedule_set(actor=portal_actor(request), repository=repository, enabled=enabled,
                          interval_seconds=interval)
    except PermissionDenied as error:
        return forbidden(request, error)
    except DomainError as error:
        detail = error.message
        if isinstance(detail, dict):
            detail = "; ".join(str(m) for messages_ in detail.values() for m in messages_)
        messages.error(request, str(detail))
    else:
        messages.success(request, _("Sync schedule saved.") if enabled else _("Scheduled syncs switched off."))
    return redirect(back)
