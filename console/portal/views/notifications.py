"""A project's notification targets (issue #12) and their recent deliveries. Targets and deliveries are the
maintainers' to see, as through the API (a webhook URL or an address list is not every member's business);
every change goes through console.services.notifications."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from console.models import NotificationDelivery, NotificationTarget
from console.portal.release_forms import NotificationTargetEditForm, NotificationTargetForm, event_label
from console.portal.views.common import ProjectAbilities, apply_domain_error, forbidden, portal_actor, refusal
from console.portal.views.projects import visible_project
from console.services.errors import DomainError, PermissionDenied
from console.services.notifications import (
    notification_target_create,
    notification_target_remove,
    notification_target_update,
)

DELIVERIES_PER_PAGE = 25


def _page(request, project, *, status: int = 200, target_form=None, bound: dict | None = None,
          new_secret: str = "", new_target=None):
    bound = bound or {}
    targets = list(project.notification_targets.order_by("id"))
    for target in targets:
        target.event_labels = [event_label(event) for event in target.events]
        target.edit_form = bound.get(target.pk) or NotificationTargetEditForm(
            prefix=f"target-{target.pk}", initial={"events": target.events, "enabled": target.enabled})
    deliveries = (NotificationDelivery.objects.filter(target__project=project).select_related("target")
                  .order_by("-created_at", "-id"))
    page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    for delivery in page.object_list:
        delivery.event_label = event_label(delivery.event)
    response = render(request, "portal/project_notifications.html", {
        "project": project, "can": ProjectAbilities(request.user, project), "targets": targets,
        "target_form": target_form or NotificationTargetForm(prefix="target"), "page": page,
        "new_secret": new_secret, "new_target": new_target,
    }, status=status)
    if new_secret:
        response["Cache-Control"] = "no-store"  # the page holds a secret shown once: no cache may keep it
    return response


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def project_notifications(request, pk: int):
    """Targets and deliveries (GET); POST adds a target, whose webhook secret this one answer shows."""
    project = visible_project(request, pk)
    if denied := refusal(request, "project.edit", project):
        return denied
    if request.method != "POST":
        return _page(request, project)
    form = NotificationTargetForm(request.POST, prefix="target")
    if form.is_valid():
        try:
            target, secret = notification_target_create(actor=portal_actor(request), project=project,
                                                        **form.service_fields())
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Notification target added."))
            if secret:
                # Rendered, not redirected: the secret is in this answer only and never stored in the session.
                return _page(request, project, new_secret=secret, new_target=target)
            return redirect("portal:project_notifications", pk=project.pk)
    return _page(request, project, status=400, target_form=form)


def _target(request, pk: int, target_id: int) -> NotificationTarget:
    project = visible_project(request, pk)
    return get_object_or_404(NotificationTarget.objects.select_related("project"), pk=target_id, project=project)


@login_required
@require_POST
def project_notification_edit(request, pk: int, target_id: int):
    """The events a target gets, and whether it is enabled."""
    target = _target(request, pk, target_id)
    if denied := refusal(request, "project.edit", target.project):
        return denied
    form = NotificationTargetEditForm(request.POST, prefix=f"target-{target.pk}")
    if form.is_valid():
        try:
            notification_target_update(actor=portal_actor(request), target=target, **form.cleaned_data)
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Notification target saved."))
            return redirect("portal:project_notifications", pk=pk)
    return _page(request, target.project, status=400, bound={target.pk: form})


@login_required
@require_POST
def project_notification_remove(request, pk: int, target_id: int):
    target = _target(request, pk, target_id)
    if denied := refusal(request, "project.edit", target.project):
        return denied
    try:
        notification_target_remove(actor=portal_actor(request), target=target)
    except PermissionDenied as error:
        return forbidden(request, error)
    messages.success(request, _("Notification target removed."))
    return redirect("portal:project_notifications", pk=pk)
