"""The project page's quota section: what the project may use, its organization's limits, and the edit."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.models import Project, quotas
from console.portal.forms import QuotaForm
from console.portal.views.common import apply_domain_error, forbidden, portal_actor, refusal
from console.portal.views.projects import render_project, visible_project
from console.services.errors import DomainError, PermissionDenied
from console.services.projects import project_update


def quota_form_for(project: Project, data=None) -> QuotaForm:
    form = QuotaForm(data, prefix="quota")
    form.set_placeholders(project.quota, project.organization.quota_limits)
    return form


def quota_rows(project: Project, usage: dict | None = None) -> list[dict]:
    """One row per resource; ``usage`` (resource -> amount used, from the cluster) fills the Used column."""
    limits = project.organization.quota_limits
    return [
        {"resource": resource, "label": quotas.LABELS[resource], "value": project.quota[resource],
         "limit": limits[resource], "used": (usage or {}).get(resource)}
        for resource in quotas.QUOTA_RESOURCES
    ]  # fmt: skip


@login_required
@require_POST
def project_quota(request, pk: int):
    project = visible_project(request, pk)
    if denied := refusal(request, "project.edit", project):
        return denied
    form = quota_form_for(project, request.POST)
    if form.is_valid():
        try:
            project_update(actor=portal_actor(request), project=project, quota=form.quota())
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Quota saved; the project is re-provisioned with it."))
            return redirect("portal:project", pk=project.pk)
        project.refresh_from_db()
    return render_project(request, project, quota_form=form, status=400)
