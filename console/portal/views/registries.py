"""A project's container registries (issue #12): their watched images, the tag policy per image and infra
repository, the last watch and a "watch now" button. Every change goes through console.services.registries
and registry_watch, the same services as the API."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from console.models import ContainerRegistry, RegistryWatchRun, TagPolicy, Trigger, WatchedImage
from console.portal.release_forms import (
    TAG_POLICY_KINDS,
    RegistryEditForm,
    RegistryForm,
    TagPolicyForm,
    WatchedImageForm,
)
from console.portal.views.common import ProjectAbilities, apply_domain_error, forbidden, portal_actor, refusal
from console.portal.views.projects import visible_project
from console.services.errors import DomainError, PermissionDenied
from console.services.registries import (
    registry_image_unwatch,
    registry_image_watch,
    registry_register,
    registry_remove,
    registry_update,
    tag_policy_set,
)
from console.services.registry_watch import registry_watch_request


def project_registries_of(project) -> list[ContainerRegistry]:
    """The registries with their images, tag counts, policies and last watch run, in four queries."""
    last_run = RegistryWatchRun.objects.filter(registry=OuterRef("pk")).order_by("-queued_at", "-id").values("pk")[:1]
    images = WatchedImage.objects.annotate(tag_count=Count("tags")).order_by("repository").prefetch_related(
        Prefetch("policies", queryset=TagPolicy.objects.select_related("repository").order_by("repository__name")))
    registries = list(project.container_registries.annotate(last_run_id=Subquery(last_run))
                      .prefetch_related(Prefetch("images", queryset=images)).order_by("name"))
    runs = RegistryWatchRun.objects.in_bulk([r.last_run_id for r in registries if r.last_run_id])
    for registry in registries:
        registry.last_run = runs.get(registry.last_run_id)
    return registries


def _page(request, project, *, status: int = 200, registry_form=None, bound: dict | None = None):
    """The registries page; ``bound`` holds a form that failed, keyed ("image", registry id) or ("policy",
    image id), shown again with its errors in place of the empty one."""
    bound = bound or {}
    can = ProjectAbilities(request.user, project)
    registries = project_registries_of(project)
    infra = list(project.repositories.filter(is_infra=True).order_by("name"))
    if can.manage:
        for registry in registries:
            registry.image_form = bound.get(("image", registry.pk)) or WatchedImageForm(prefix=f"image-{registry.pk}")
            for image in registry.images.all():
                image.policy_form = bound.get(("policy", image.pk)) or TagPolicyForm(
                    prefix=f"policy-{image.pk}", repositories=infra)
    if registry_form is not None:
        registry_form.redact_secrets()
    return render(request, "portal/project_registries.html", {
        "project": project, "can": can, "registries": registries, "infra_repositories": infra,
        "registry_form": registry_form or RegistryForm(prefix="registry"),
        "kind_labels": {str(k): v for k, v in TAG_POLICY_KINDS.items()},
    }, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def project_registries(request, pk: int):
    """The list (GET); POST registers a registry."""
    project = visible_project(request, pk)
    if request.method != "POST":
        return _page(request, project)
    if denied := refusal(request, "registry.manage", project):
        return denied
    form = RegistryForm(request.POST, prefix="registry")
    if form.is_valid():
        try:
            registry = registry_register(actor=portal_actor(request), project=project, **form.service_fields())
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            _apply(form, error)
        else:
            messages.success(request, _("Registry %(name)s registered.") % {"name": registry.name})
            return redirect(_anchor(registry))
    return _page(request, project, status=400, registry_form=form)


def _apply(form, error: DomainError) -> None:
    if error.code == "registry_exists":
        form.add_error("name", error.message)  # a duplicate name is the name field's problem
    else:
        apply_domain_error(form, error)


def _anchor(registry) -> str:
    return reverse("portal:project_registries", args=[registry.project_id]) + f"#registry-{registry.pk}"


def _registry(request, pk: int, registry_id: int) -> ContainerRegistry:
    project = visible_project(request, pk)
    return get_object_or_404(ContainerRegistry.objects.select_related("project"), pk=registry_id, project=project)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def project_registry_edit(request, pk: int, registry_id: int):
    """URL and credentials; the token stays write-only (empty keeps it)."""
    registry = _registry(request, pk, registry_id)
    project = registry.project
    if denied := refusal(request, "registry.manage", project):
        return denied
    if request.method == "POST":
        form = RegistryEditForm(request.POST, prefix="registry")
        if form.is_valid():
            try:
                registry_update(actor=portal_actor(request), registry=registry, **form.cleaned_data)
            except PermissionDenied as error:
                return forbidden(request, error)
            except DomainError as error:
                apply_domain_error(form, error)
                registry.refresh_from_db()
            else:
                messages.success(request, _("Registry %(name)s saved.") % {"name": registry.name})
                return redirect(_anchor(registry))
        form.redact_secrets()
    else:
        form = RegistryEditForm(prefix="registry", registry=registry)
    return render(request, "portal/registry_edit.html", {"registry": registry, "project": project, "form": form},
                  status=400 if form.errors else 200)


@login_required
@require_POST
def project_registry_remove(request, pk: int, registry_id: int):
    registry = _registry(request, pk, registry_id)
    if denied := refusal(request, "registry.manage", registry.project):
        return denied
    name = registry.name
    try:
        registry_remove(actor=portal_actor(request), registry=registry)
    except PermissionDenied as error:
        return forbidden(request, error)
    messages.success(request, _("Registry %(name)s removed.") % {"name": name})
    return redirect("portal:project_registries", pk=pk)


@login_required
@require_POST
def project_registry_image_add(request, pk: int, registry_id: int):
    registry = _registry(request, pk, registry_id)
    if denied := refusal(request, "registry.manage", registry.project):
        return denied
    form = WatchedImageForm(request.POST, prefix=f"image-{registry.pk}")
    if form.is_valid():
        try:
            image = registry_image_watch(actor=portal_actor(request), registry=registry,
                                         image=form.cleaned_data["repository"])
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            # The service names the list it was given through the API ("images"): here it is this one field.
            form.add_error("repository", list(error.message.get("images", [])) if isinstance(
                error.message, dict) else error.message)
        else:
            messages.success(request, _("Watching %(image)s.") % {"image": image.reference})
            return redirect(_anchor(registry))
    return _page(request, registry.project, status=400, bound={("image", registry.pk): form})


def _image(request, pk: int, registry_id: int, image_id: int) -> WatchedImage:
    registry = _registry(request, pk, registry_id)
    return get_object_or_404(registry.images.select_related("registry__project"), pk=image_id)


@login_required
@require_POST
def project_registry_image_remove(request, pk: int, registry_id: int, image_id: int):
    image = _image(request, pk, registry_id, image_id)
    if denied := refusal(request, "registry.manage", image.registry.project):
        return denied
    reference = image.reference
    try:
        registry_image_unwatch(actor=portal_actor(request), image=image)
    except PermissionDenied as error:
        return forbidden(request, error)
    messages.success(request, _("No longer watching %(image)s.") % {"image": reference})
    return redirect(_anchor(image.registry))


@login_required
@require_POST
def project_registry_policy(request, pk: int, registry_id: int, image_id: int):
    """Set (create or replace) the tag policy of one watched image for one infra repository."""
    image = _image(request, pk, registry_id, image_id)
    project = image.registry.project
    if denied := refusal(request, "registry.manage", project):
        return denied
    infra = list(project.repositories.filter(is_infra=True).order_by("name"))
    form = TagPolicyForm(request.POST, prefix=f"policy-{image.pk}", repositories=infra)
    if form.is_valid():
        repository = next(r for r in infra if r.pk == form.cleaned_data["repository"])
        try:
            tag_policy_set(actor=portal_actor(request), image=image, repository=repository, **form.service_fields())
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Tag policy of %(image)s in %(repository)s saved.") % {
                "image": image.reference, "repository": repository.name})
            return redirect(_anchor(image.registry))
    return _page(request, project, status=400, bound={("policy", image.pk): form})


@login_required
@require_POST
def project_registry_watch(request, pk: int, registry_id: int):
    """Check the registry now (joins a queued check)."""
    registry = _registry(request, pk, registry_id)
    try:
        queued = registry_watch_request(actor=portal_actor(request), registry=registry, trigger=Trigger.PORTAL)
    except PermissionDenied as error:
        return forbidden(request, error)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Watch #%(run)s of %(name)s queued.") % {"run": queued.run.pk,
                                                                              "name": registry.name})
    return redirect(_anchor(registry))
