"""The project page and its actions: re-provision, archive, manifests, members."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import OuterRef, Subquery
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from console.models import Project, SyncRun
from console.portal.forms import MemberForm, RepositoryForm
from console.portal.views.common import (
    ProjectAbilities,
    apply_domain_error,
    forbidden,
    portal_actor,
    refusal,
)
from console.portal.views.images import project_redeploy_warnings
from console.selectors import (
    HISTORY_DEFERRED,
    project_activity_feed,
    project_members,
    projects_visible_to,
    recent_sync_runs_of_project,
)
from console.services.errors import DomainError, PermissionDenied
from console.services.memberships import membership_remove, membership_set
from console.services.projects import project_archive, project_provision_request
from console.services.provisioning import project_render_yaml
from provisioning.errors import ProvisioningError

RECENT_PROVISIONING_RUNS = 5


def visible_project(request, pk: int) -> Project:
    return get_object_or_404(projects_visible_to(request.user), pk=pk)


def provisioning_summary(run) -> str:
    """One line saying what a provisioning run did, from its recorded result."""
    result = run.result or {}
    parts = []
    if result.get("commit"):
        parts.append(_("commit %(sha)s") % {"sha": result["commit"][:8]})
    counted = {"added": _("%(count)d added"), "modified": _("%(count)d modified"), "removed": _("%(count)d removed")}
    for key, phrase in counted.items():
        if result.get(key):
            parts.append(phrase % {"count": len(result[key])})
    if result.get("created"):
        parts.append(_("created %(names)s") % {"names": ", ".join(result["created"])})
    if result.get("archived_repositories"):
        parts.append(_("%(count)d repositories archived") % {"count": len(result["archived_repositories"])})
    if not parts and run.status == "no_change":
        parts.append(_("everything already in place"))
    return "; ".join(parts)


def project_repositories(project: Project) -> list:
    """The project's repositories, each with its latest sync run, in two queries."""
    latest = SyncRun.objects.filter(repository=OuterRef("pk")).order_by("-queued_at", "-id").values("pk")[:1]
    repositories = list(project.repositories.annotate(last_sync_id=Subquery(latest)))
    runs = SyncRun.objects.defer(*HISTORY_DEFERRED).in_bulk([r.last_sync_id for r in repositories if r.last_sync_id])
    for repository in repositories:
        repository.last_sync = runs.get(repository.last_sync_id)
    return repositories


RECENT_SYNC_RUNS = 10


def project_context(request, project: Project, *, repository_form=None, member_form=None, quota_form=None,
                    quota_usage: dict | None = None) -> dict:
    """Everything the project page shows; its live sections are re-rendered from the same context."""
    from console.portal.views.deployments import observed_quota_usage, project_runtime
    from console.portal.views.live import mark_pending_bumps, project_activity
    from console.portal.views.quotas import quota_form_for, quota_rows

    runs = list(project.provisioning_runs.select_related("actor")[:RECENT_PROVISIONING_RUNS])
    for run in runs:
        run.summary = provisioning_summary(run)
    activity = project_activity(project)
    runtime = project_runtime(project)
    repositories = project_repositories(project)
    return {
        "project": project,
        "can": ProjectAbilities(request.user, project),
        "activity": activity,
        "live_url": reverse("portal:project_live", args=[project.pk]),
        "provisioning_runs": runs,
        "redeploy_warnings": mark_pending_bumps(project_redeploy_warnings(project), activity["bumps"]),
        "repositories": repositories,
        "members": project_members(project),
        "recent_syncs": recent_sync_runs_of_project(project, limit=RECENT_SYNC_RUNS, repositories=repositories),
        "repository_form": repository_form or RepositoryForm(prefix="repo"),
        "member_form": member_form or MemberForm(prefix="member"),
        **runtime,
        # quota_usage: the ResourceQuota's status.used by resource once read back from a cluster.
        "quota_rows": quota_rows(project, observed_quota_usage(runtime) if quota_usage is None else quota_usage),
        "quota_form": quota_form or quota_form_for(project),
        "activity_feed": project_activity_feed(project),
    }


def render_project(request, project: Project, *, repository_form=None, member_form=None, quota_form=None,
                   status: int = 200):
    context = project_context(request, project, repository_form=repository_form, member_form=member_form,
                              quota_form=quota_form)
    return render(request, "portal/project_detail.html", context, status=status)


@login_required
@require_safe
def project_detail(request, pk: int):
    return render_project(request, visible_project(request, pk))


@login_required
@require_POST
def project_provision(request, pk: int):
    project = visible_project(request, pk)
    try:
        outcome = project_provision_request(actor=portal_actor(request), project=project)
    except PermissionDenied as error:
        return forbidden(request, error)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        if outcome.created:
            messages.success(request, _("Provisioning #%(run)s queued.") % {"run": outcome.run.pk})
        else:
            messages.info(request, _("Joined the queued provisioning #%(run)s.") % {"run": outcome.run.pk})
    return redirect("portal:project", pk=project.pk)


@login_required
@require_POST
def project_archive_view(request, pk: int):
    project = visible_project(request, pk)
    try:
        # The confirmation a cluster with direct delivery needs before deleting the namespace and its workloads.
        outcome = project_archive(actor=portal_actor(request), project=project,
                                  delete_namespace=request.POST.get("delete_namespace") == "on")
    except PermissionDenied as error:
        return forbidden(request, error)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Archiving queued as run #%(run)s.") % {"run": outcome.run.pk})
    return redirect("portal:project", pk=project.pk)


@login_required
@require_safe
def project_manifests(request, pk: int):
    project = visible_project(request, pk)
    try:
        rendered, error = project_render_yaml(project), None
    except ProvisioningError as exc:
        rendered, error = None, exc.message
    return render(request, "portal/project_manifests.html", {
        "project": project, "manifests": rendered, "error": error,
    }, status=200 if error is None else 422)


@login_required
@require_safe
def project_manifests_download(request, pk: int):
    project = visible_project(request, pk)
    try:
        rendered = project_render_yaml(project)
    except ProvisioningError as exc:
        return HttpResponse(exc.message, status=422, content_type="text/plain; charset=utf-8")
    response = HttpResponse(rendered, content_type="text/yaml; charset=utf-8")
    filename = f"{project.organization.slug}-{project.slug}.yaml"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_POST
def member_add(request, pk: int):
    project = visible_project(request, pk)
    if denied := refusal(request, "project.members", project):
        return denied
    form = MemberForm(request.POST, prefix="member")
    if form.is_valid():
        try:
            membership = membership_set(actor=portal_actor(request), project=project, **form.cleaned_data)
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("%(user)s is now %(role)s of %(project)s.") % {
                "user": membership.user.username, "role": membership.get_role_display(), "project": project})
            return redirect("portal:project", pk=project.pk)
    return render_project(request, project, member_form=form)


@login_required
@require_POST
def member_remove(request, pk: int, membership_id: int):
    project = visible_project(request, pk)
    membership = get_object_or_404(project_members(project), pk=membership_id)
    try:
        membership_remove(actor=portal_actor(request), membership=membership)
    except PermissionDenied as error:
        return forbidden(request, error)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Removed %(user)s (%(role)s).") % {
            "user": membership.user.username, "role": membership.get_role_display()})
    return redirect("portal:project", pk=project.pk)
