"""Registering repositories and the repository page with its sync history."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from console.portal.forms import RepositoryForm
from console.portal.views.common import ProjectAbilities, apply_domain_error, forbidden, portal_actor
from console.portal.views.projects import render_project, visible_project
from console.selectors import repositories_visible_to, sync_runs_visible_to
from console.services.errors import DomainError, PermissionDenied
from console.services.repositories import repository_register

SYNC_RUNS_PER_PAGE = 20


@login_required
@require_POST
def repository_new(request, pk: int):
    project = visible_project(request, pk)
    form = RepositoryForm(request.POST, prefix="repo")
    if form.is_valid():
        try:
            repository = repository_register(actor=portal_actor(request), project=project,
                                             **form.service_fields())
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            initial = repository.sync_runs.first()
            suffix = f"; initial sync #{initial.pk} is queued" if initial else ""
            messages.success(request, f"Repository {repository.name} registered{suffix}.")
            return redirect("portal:repository", pk=repository.pk)
    form.redact_secrets()
    return render_project(request, project, repository_form=form)


@login_required
def repository_detail(request, pk: int):
    repository = get_object_or_404(repositories_visible_to(request.user), pk=pk)
    runs = sync_runs_visible_to(request.user).filter(repository=repository)
    page = Paginator(runs, SYNC_RUNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "portal/repository_detail.html", {
        "repository": repository,
        "project": repository.project,
        "can": ProjectAbilities(request.user, repository.project),
        "page": page,
    })
