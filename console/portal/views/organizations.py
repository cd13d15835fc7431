"""Home, organizations, and creating projects inside them."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_safe
from django.utils.translation import gettext as _

from console.authorization import allows
from console.models import quotas
from console.models import Project
from console.portal.forms import OrganizationForm, ProjectForm
from console.portal.views.common import apply_domain_error, forbidden, portal_actor, refusal
from console.selectors import organizations_visible_to, projects_visible_to, with_deployment_health
from console.services.errors import DomainError, PermissionDenied
from console.services.organizations import organization_create
from console.services.projects import project_create

# A form page: shown with GET, submitted with POST; any other method is a 405, not the form again.
require_form_methods = require_http_methods(["GET", "HEAD", "POST"])


HOME_PROJECTS_PER_PAGE = 50


def _matching(projects, query: str):
    if not query:
        return projects
    return projects.filter(Q(name__icontains=query) | Q(slug__icontains=query) | Q(namespace__icontains=query)
                           | Q(organization__slug__icontains=query) | Q(organization__name__icontains=query))


@login_required
@require_safe
def home(request):
    """The caller's projects by organization, a page at a time: staff see all of them (10,000 projects would
    make megabytes of HTML), so the page is searchable by project, namespace or organization."""
    query = request.GET.get("q", "").strip()[:100]
    projects = _matching(projects_visible_to(request.user).order_by("organization__slug", "slug"), query)
    page = Paginator(projects, HOME_PROJECTS_PER_PAGE).get_page(request.GET.get("page"))
    organizations: dict[int, object] = {}
    for project in page.object_list:
        organization = organizations.setdefault(project.organization_id, project.organization)
        organization.__dict__.setdefault("visible_projects", []).append(project)
    # Organizations without a project stay findable: after the last page, or by their name.
    has_projects = Exists(Project.objects.filter(organization=OuterRef("pk")))
    empty = organizations_visible_to(request.user).filter(~has_projects)
    if query:
        empty = empty.filter(Q(slug__icontains=query) | Q(name__icontains=query))
    empty = list(empty.order_by("slug")[:HOME_PROJECTS_PER_PAGE])
    if not page.has_next():
        for organization in empty:
            organization.visible_projects = []
            organizations[organization.pk] = organization
    return render(request, "portal/home.html", {
        "organizations": list(organizations.values()), "page": page, "query": query,
        "has_any": bool(organizations) or bool(query) or page.paginator.count > 0,
    })


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
    projects = with_deployment_health(projects_visible_to(request.user).filter(organization=organization))
    from console.portal.views.members import organization_members_context

    return render(request, "portal/organization_detail.html", {
        "organization": organization,
        "projects": projects,
        "can_create_project": allows(portal_actor(request), "project.create", organization),
        "quota_limits": [{"label": quotas.LABELS[resource], "limit": limit}
                         for resource, limit in organization.quota_limits.items()],
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
    form.set_placeholders(settings.QUOTA_DEFAULTS, organization.quota_limits if organization else None)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if not k.startswith("quota_")}
        target = data.pop("organization", None) or organization
        try:
            project, run = project_create(actor=portal_actor(request), organization=target, quota=form.quota(),
                                          **data)
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Project %(slug)s created; provisioning #%(run)s queued.") % {
                "slug": project.full_slug, "run": run.pk})
            return redirect("portal:project", pk=project.pk)
    return render(request, "portal/project_form.html", {"form": form, "organization": organization})
