"""Pending work on the project and repository pages, and the fragments the page polls while it lasts.

A page wraps each section that background work changes (pending work, redeploy warnings, provisioning,
recent syncs, bumps) in an element with a stable ``live-*`` id. While anything of the project is queued or
running, the page carries ``data-live-url``; portal.js then fetches that URL every few seconds and swaps
each returned section in by id, and stops once the answer says nothing is pending. Without JavaScript the
same sections render on every load, with a link to reload.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from console.models import ACTIVE_STATUSES, ImageBump, ProvisioningRun, SyncRun


def project_activity(project, *, repository=None) -> dict:
    """What is queued or running for the project (or one repository of it), oldest first."""
    provisioning = ProvisioningRun.objects.filter(project=project, status__in=ACTIVE_STATUSES)
    syncs = SyncRun.objects.filter(repository__project=project, status__in=ACTIVE_STATUSES)
    bumps = ImageBump.objects.filter(repository__project=project, status__in=ACTIVE_STATUSES)
    if repository is not None:
        syncs, bumps = syncs.filter(repository=repository), bumps.filter(repository=repository)
    # Nothing pending is the common case (most page loads, and the live poll's last answer): one query says so
    # instead of three that each find nothing.
    if not provisioning.values("pk").union(syncs.values("pk"), bumps.values("pk"), all=True).exists():
        return {"provisioning": [], "syncs": [], "bumps": [], "any": False}
    activity = {
        "provisioning": list(provisioning.order_by("queued_at", "id")),
        "syncs": list(syncs.select_related("repository").order_by("queued_at", "id")),
        "bumps": list(bumps.select_related("repository").order_by("queued_at", "id")),
    }
    activity["any"] = any(activity[kind] for kind in ("provisioning", "syncs", "bumps"))
    return activity


def mark_pending_bumps(warnings: list[dict], bumps: list[ImageBump]) -> list[dict]:
    """A warning's place with a bump on the way shows that bump instead of another bump button."""
    for warning in warnings:
        for place in warning["bump_candidates"]:
            place["pending_bump"] = next(
                (b for b in bumps if b.repository_id == place["repository_id"] and b.image == warning["image"]
                 and b.file in ("", place["file"]) and b.location in ("", place["location"])), None)
    return warnings


@login_required
@require_GET
def project_live(request, pk: int):
    from console.portal.views.projects import project_context, visible_project

    project = visible_project(request, pk)
    return render(request, "portal/partials/project_live.html", project_context(request, project))


@login_required
@require_GET
def repository_live(request, pk: int):
    from console.portal.views.repositories import repository_context, visible_repository

    repository = visible_repository(request, pk)
    return render(request, "portal/partials/repository_live.html", repository_context(request, repository))
