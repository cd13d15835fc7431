"""The platform admins' operations view: runs queued, running and failed across the platform, the oldest
stuck runs, failure reasons grouped by code, and bulk actions on selected projects (console.services.bulk)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from console.models import ImageBump, Project, ProvisioningRun, RunStatus, SyncRun
from console.portal.views.common import portal_actor, refusal
from console.services.bulk import BULK_ACTIONS, projects_bulk_action
from console.services.errors import DomainError

FAILURE_WINDOW = timedelta(days=7)
OLDEST_ACTIVE = 10
PROJECTS_PER_PAGE = 25
KINDS = (("sync", SyncRun), ("provisioning", ProvisioningRun), ("bump", ImageBump))


def run_counts(since) -> list[dict]:
    """Per kind of run: how many are queued, running, and failed since `since` (one query per kind)."""
    rows = []
    for kind, model in KINDS:
        counts = model.objects.aggregate(
            queued=Count("pk", filter=Q(status=RunStatus.QUEUED)),
            running=Count("pk", filter=Q(status=RunStatus.RUNNING)),
            failed=Count("pk", filter=Q(status=RunStatus.FAILED, queued_at__gte=since)),
        )
        rows.append({"kind": kind, **counts})
    return rows


def oldest_active(limit: int = OLDEST_ACTIVE) -> list:
    """The longest-waiting queued or running runs of every kind, oldest first."""
    active = Q(status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
    runs = [
        *SyncRun.objects.filter(active).select_related("repository__project__organization")
        .order_by("queued_at")[:limit],
        *ProvisioningRun.objects.filter(active).select_related("project__organization").order_by("queued_at")[:limit],
    ]
    for run in runs:
        run.kind = "sync" if isinstance(run, SyncRun) else "provisioning"
        run.subject_project = run.repository.project if run.kind == "sync" else run.project
    return sorted(runs, key=lambda run: run.queued_at)[:limit]


def failure_reasons(since) -> list[dict]:
    """Failed runs since `since`, grouped by error code, the most frequent first."""
    reasons: dict[str, dict] = {}
    for kind, model in KINDS:
        grouped = (model.objects.filter(status=RunStatus.FAILED, queued_at__gte=since)
                   .values("error_code").annotate(n=Count("pk")))
        for row in grouped:
            entry = reasons.setdefault(row["error_code"] or "unknown", {"code": row["error_code"] or "unknown",
                                                                        "count": 0, "kinds": []})
            entry["count"] += row["n"]
            entry["kinds"].append(kind)
    return sorted(reasons.values(), key=lambda entry: (-entry["count"], entry["code"]))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def operations(request):
    if denied := refusal(request, "platform.operations", None):
        return denied
    if request.method == "POST":
        ids = [int(pk) for pk in request.POST.getlist("projects") if pk.isdigit()]
        projects = list(Project.objects.filter(pk__in=ids).select_related("organization").order_by("pk"))
        try:
            outcome = projects_bulk_action(actor=portal_actor(request), action=request.POST.get("action", ""),
                                           projects=projects, reason=request.POST.get("reason", ""))
        except DomainError as error:
            details = error.message.values() if isinstance(error.message, dict) else [[error.message]]
            messages.error(request, "; ".join(str(m) for ms in details for m in ms))
        else:
            for line in [*outcome.queued, *outcome.done]:
                messages.success(request, line)
            for line in outcome.refused:
                messages.error(request, line)
        return redirect(request.get_full_path())
    since = timezone.now() - FAILURE_WINDOW
    query = request.GET.get("q", "").strip()[:100]
    projects = Project.objects.select_related("organization").order_by("organization__slug", "slug")
    if query:
        projects = projects.filter(Q(slug__icontains=query) | Q(name__icontains=query)
                                   | Q(organization__slug__icontains=query))
    return render(request, "portal/operations.html", {
        "counts": run_counts(since),
        "oldest": oldest_active(),
        "reasons": failure_reasons(since),
        "page": Paginator(projects, PROJECTS_PER_PAGE).get_page(request.GET.get("page")),
        "query": query,
        "actions": BULK_ACTIONS,
        "window_days": FAILURE_WINDOW.days,
    })
