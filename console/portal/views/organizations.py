"""Home, organizations, and creating projects inside them."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_safe
from django.utils.translation import gettext as _

from console.authorization import allows
from console.portal.forms import OrganizationForm, ProjectForm
from console.portal.views.common import apply_domain_error, forbidden, portal_actor, refusal
from console.selectors import organizations_visible_to, projects_visible_to
from console.services.errors import DomainError, PermissionDenied
from console.services.organizations import organization_create
from console.services.projects import project_create

# A form page: shown with GET, submitted with POST; any other method is a 405, not the form again.
require_form_methods = require_http_methods(["GET", "HEAD", "POST"])


@login_required
@require_safe
def home(request):
    organizations = list(organizations_visible_to(request.user))
    projects_by_org: dict[int, list] = {org.pk: [] for org in organizations}
    for project in projects_visible_to(request.user):
        projects_by_org.setdefault(project.organization_id, []).append(project)
    for org in organizations:
        org.visible_projects = projects_by_org.get(org.pk, [])
    return render(request, "portal/home.html", {"organizations": organizations})


@login_required
@require_form_methods
def organization_new(request):
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organization = organization_create(actor=portal_actor(request), **form.cleaned_data)
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Organization %(slug)s created; you are its owner.") % {
                "slug": organization.slug})
            return redirect("portal:organization", slug=organization.slug)
    return render(request, "portal/organization_form.html", {"form": form})


@login_required
@require_safe
def organization_detail(request, slug: str):
    organization = get_object_or_404(organizations_visible_to(request.user), slug=slug)
    projects = projects_visible_to(request.user).filter(organization=organization)
    from console.portal.views.members import organization_members_context

    return render(request, "portal/organization_detail.html", {
        "organization": organization,
        "projects": projects,
        "can_create_project": allows(portal_actor(request), "project.create", organization),
        **organization_members_context(request, organization),
    })


@login_required
@require_form_methods
def project_new(request, slug: str | None = None):
    """Create a project in the organization named by the URL, or in one chosen from a list."""
    visible = organizations_visible_to(request.user)
    organization = get_object_or_404(visible, slug=slug) if slug else None
    if organization is not None and request.method == "POST" and (
            denied := refusal(request, "project.create", organization)):
        return denied
    form = ProjectForm(request.POST or None, organizations=None if organization else visible)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        target = data.pop("organization", None) or organization
        try:
            project, run = project_create(actor=portal_actor(request), organization=target, **data)
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Project %(slug)s created; provisioning #%(run)s queued.") % {
                "slug": project.full_slug, "run": run.pk})
            return redirect("portal:project", pk=project.pk)
    return render(request, "portal/project_form.html", {"form": form, "organization": organization})
