"""The Sync button and the run fragment the page polls while a sync is in progress."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django.utils.translation import gettext as _

from console.models import Trigger
from console.portal.views.common import forbidden, portal_actor, wants_json
from console.selectors import repositories_visible_to, sync_runs_visible_to
from console.services.errors import DomainError, PermissionDenied
from console.services.syncs import sync_request

PARTIAL_TEMPLATES = {
    "row": "portal/partials/sync_run_row.html",
    "summary": "portal/partials/sync_run_summary.html",
}


@login_required
@require_POST
def sync_new(request, pk: int):
    repository = get_object_or_404(repositories_visible_to(request.user), pk=pk)
    try:
        outcome = sync_request(actor=portal_actor(request), repository=repository, trigger=Trigger.PORTAL)
    except PermissionDenied as error:
        return forbidden(request, error)
    except DomainError as error:
        if wants_json(request):
            return JsonResponse({"detail": str(error.message), "code": error.code}, status=error.status_code)
        messages.error(request, str(error.message))
        return redirect(_back(request, repository))
    run = outcome.run
    if outcome.created:
        message = _("Sync #%(run)s queued") % {"run": run.pk}
    else:
        message = _("Joined the queued sync #%(run)s") % {"run": run.pk}
    if wants_json(request):
        return JsonResponse({
            "run_id": run.pk,
            "created": outcome.created,
            "status": run.status,
            "message": message,
            "partial_url": reverse("portal:sync_partial", args=[run.pk]),
        }, status=202)
    messages.success(request, message + ".")
    return redirect(_back(request, repository))


def _back(request, repository) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("portal:repository", args=[repository.pk])


@login_required
@require_GET
def sync_partial(request, pk: int):
    run = get_object_or_404(sync_runs_visible_to(request.user), pk=pk)
    template = PARTIAL_TEMPLATES.get(request.GET.get("variant", "row"), PARTIAL_TEMPLATES["row"])
    return render(request, template, {"run": run, "show_repository": request.GET.get("repository") == "1"})
