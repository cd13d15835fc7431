"""Registering repositories, the repository page (sync history; images of an infra repository) and bumping
an image tag from the portal."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.utils.translation import gettext as _

from console.authorization import project_locked_error
from console.models import Trigger
from console.portal.forms import ImageBumpForm, RepositoryEditForm, RepositoryForm, bump_target
from console.portal.keyset import keyset_page
from console.portal.views.common import (
    ProjectAbilities,
    apply_domain_error,
    forbidden,
    portal_actor,
    refusal,
    safe_next,
)
from console.portal.views.images import images_context
from console.portal.views.projects import render_project, visible_project
from console.selectors import repositories_visible_to, sync_runs_of
from console.services.errors import DomainError, PermissionDenied
from console.services.image_bumps import image_tag_bump_request
from console.services.repositories import repository_register, repository_remove, repository_update

SYNC_RUNS_PER_PAGE = 20


@login_required
@require_POST
def repository_new(request, pk: int):
    project = visible_project(request, pk)
    if denied := refusal(request, "repository.register", project):
        return denied
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
            if initial:
                message = _("Repository %(name)s registered; initial sync #%(run)s is queued.") % {
                    "name": repository.name, "run": initial.pk}
            else:
                message = _("Repository %(name)s registered.") % {"name": repository.name}
            messages.success(request, message)
            return redirect("portal:repository", pk=repository.pk)
    form.redact_secrets()
    return render_project(request, project, repository_form=form)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])  # a form page: PUT/PATCH/DELETE are not another way to GET it
def repository_edit(request, pk: int):
    """URL, credentials and deployment settings of a registered repository; saving a new URL or token
    queues a sync at once, new deployment settings a provisioning run."""
    repository = visible_repository(request, pk)
    can = ProjectAbilities(request.user, repository.project)
    if can.locked:  # the banner already told every member: the page says why the form is closed
        return forbidden(request, project_locked_error(repository.project))
    if not can.manage:
        return forbidden(request, PermissionDenied("editing a repository needs the maintainer role"))
    if request.method == "POST":
        form = RepositoryEditForm(request.POST, prefix="repo")
        if form.is_valid():
            try:
                repository_update(actor=portal_actor(request), repository=repository, **form.service_fields())
            except PermissionDenied as error:
                return forbidden(request, error)
            except DomainError as error:
                apply_domain_error(form, error)
                repository.refresh_from_db()
            else:
                messages.success(request, _("Repository %(name)s saved.") % {"name": repository.name})
                return redirect("portal:repository", pk=repository.pk)
        form.redact_secrets()
    else:
        form = RepositoryEditForm(prefix="repo", repository=repository)
    return render(request, "portal/repository_edit.html", {
        "repository": repository, "project": repository.project, "form": form,
    }, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def repository_remove_view(request, pk: int):
    """A confirmation page (type the name), then the removal; the project page follows its provisioning."""
    repository = visible_repository(request, pk)
    project = repository.project
    can = ProjectAbilities(request.user, project)
    if can.locked:
        return forbidden(request, project_locked_error(project))
    if not can.manage:
        return forbidden(request, PermissionDenied("removing a repository needs the maintainer role"))
    error = None
    if request.method == "POST":
        if request.POST.get("confirm_name", "").strip() != repository.name:
            error = _("type %(name)s to confirm") % {"name": repository.name}
        else:
            name = repository.name
            try:
                queued = repository_remove(actor=portal_actor(request), repository=repository)
            except PermissionDenied as denied:
                return forbidden(request, denied)
            except DomainError as refused:
                error = str(refused.message)
            else:
                messages.success(request, _("Repository %(name)s removed; provisioning #%(run)s updates the "
                                            "manifests and archives its internal mirror.") % {
                    "name": name, "run": queued.run.pk})
                return redirect("portal:project", pk=project.pk)
    return render(request, "portal/repository_remove.html", {
        "repository": repository, "project": project, "error": error,
    }, status=400 if error else 200)


def visible_repository(request, pk: int):
    return get_object_or_404(repositories_visible_to(request.user), pk=pk)


def repository_context(request, repository, *, bump_form: ImageBumpForm | None = None, **ci_extra) -> dict:
    """Everything the repository page shows; ``ci_extra`` carries the CI section's forms and a just-created
    secret. Its live sections are re-rendered from the same context."""
    from console.portal.views.ci import ci_context
    from console.portal.views.deployments import repository_runtime
    from console.portal.views.live import project_activity
    from console.services.schedules import schedule_state

    page = keyset_page(sync_runs_of(repository=repository), request.GET, SYNC_RUNS_PER_PAGE)
    return {
        "repository": repository,
        "project": repository.project,
        "can": ProjectAbilities(request.user, repository.project),
        "activity": project_activity(repository.project, repository=repository),
        # Polling refreshes the newest runs; an older page of the history stays as it is.
        "live_url": reverse("portal:repository_live", args=[repository.pk]),
        "live_history": page.number == 1,
        "page": page,
        "history_url": reverse("portal:repository_syncs", args=[repository.pk]),
        "sync_schedule": schedule_state(repository),
        "image_pins": list(repository.image_pins.filter(unpinned_at__isnull=True).order_by("image")),
        **images_context(request, repository, bump_form=bump_form),
        **ci_context(request, repository, **ci_extra),
        **repository_runtime(repository),
    }


def render_repository(request, repository, *, bump_form: ImageBumpForm | None = None, status: int = 200,
                      **ci_extra):
    context = repository_context(request, repository, bump_form=bump_form, **ci_extra)
    return render(request, "portal/repository_detail.html", context, status=status)


@login_required
@require_safe
def repository_syncs(request, pk: int):
    """The whole sync history on a page of its own: reading page 400 costs the history's 20 rows, not the
    repository page's every section (images, CI, deployments) again."""
    repository = visible_repository(request, pk)
    return render(request, "portal/repository_syncs.html", {
        "repository": repository,
        "project": repository.project,
        "page": keyset_page(sync_runs_of(repository=repository), request.GET, SYNC_RUNS_PER_PAGE),
        "history_url": reverse("portal:repository_syncs", args=[repository.pk]),
    })


@login_required
@require_safe
def repository_detail(request, pk: int):
    from console.portal.views.ci import pop_new_secret

    repository = visible_repository(request, pk)
    secret = pop_new_secret(request, repository)
    response = render_repository(request, repository, **secret)
    if secret:
        response["Cache-Control"] = "no-store"  # the page holds a secret shown once: no cache may keep it
    return response


@login_required
@require_POST
def image_bump(request, pk: int):
    """The bump form of the repository page and of the project page's redeploy warnings."""
    repository = visible_repository(request, pk)
    inventory = list(repository.image_inventory.all())
    data = request.POST.copy()
    if not data.get("bump-target") and data.get("bump-image"):
        # Posted from a redeploy warning: preselect the same place, should the form be shown again.
        target = bump_target(data["bump-image"], data.get("bump-file", ""), data.get("bump-location", ""))
        if any(bump_target(e.image, e.file, e.location) == target for e in inventory):
            data["bump-target"] = target
    form = ImageBumpForm(data, prefix="bump", inventory=inventory)
    if form.is_valid():
        try:
            bump = image_tag_bump_request(actor=portal_actor(request), repository=repository,
                                          trigger=Trigger.PORTAL, **form.service_fields())
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Bump #%(bump)s queued: %(image)s → %(tag)s in %(name)s.") % {
                "bump": bump.pk, "image": bump.image, "tag": bump.tag, "name": repository.name})
            default = reverse("portal:repository", args=[repository.pk]) + "#image-bumps"
            return redirect(safe_next(request, default))
    return render_repository(request, repository, bump_form=form)
