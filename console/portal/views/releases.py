"""Release pages and actions of the portal (issue #12): the sync schedule form, pins and rollbacks."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST, require_safe

from console.portal.views.common import forbidden, portal_actor, refusal, safe_next
from console.portal.views.repositories import visible_repository
from console.services.errors import DomainError, PermissionDenied
from console.services.schedules import sync_schedule_set


@login_required
@require_POST
def sync_schedule_update(request, pk: int):
    repository = visible_repository(request, pk)
    if denied := refusal(request, "repository.manage", repository):
        return denied
    enabled = request.POST.get("enabled") == "on"
    raw = request.POST.get("interval_minutes", "").strip()
    back = reverse("portal:repository", args=[repository.pk]) + "#sync-schedule"
    try:
        interval = int(raw) * 60 if raw else None
    except ValueError:
        messages.error(request, _("The interval is a whole number of minutes."))
        return redirect(back)
    try:
        sync_schedule_set(actor=portal_actor(request), repository=repository, enabled=enabled,
                          interval_seconds=interval)
    except PermissionDenied as error:
        return forbidden(request, error)
    except DomainError as error:
        detail = error.message
        if isinstance(detail, dict):
            detail = "; ".join(str(m) for messages_ in detail.values() for m in messages_)
        messages.error(request, str(detail))
    else:
        messages.success(request, _("Sync schedule saved.") if enabled else _("Scheduled syncs switched off."))
    return redirect(back)


def _detail(error: DomainError) -> str:
    if isinstance(error.message, dict):
        return "; ".join(f"{field}: {m}" if field not in ("__all__", None) else str(m)
                         for field, messages_ in error.message.items()
                         for m in (messages_ if isinstance(messages_, (list, tuple)) else [messages_]))
    return str(error.message)


@login_required
@require_POST
def image_rollback_view(request, pk: int):
    """"Roll back to this tag" from a row of the image tag history: a bump to it and a pin."""
    from console.models import Trigger
    from console.services.pins import image_rollback

    repository = visible_repository(request, pk)
    if denied := refusal(request, "repository.pin", repository):
        return denied
    back = safe_next(request, reverse("portal:repository", args=[repository.pk]) + "#image-pins")
    try:
        pin, bump = image_rollback(
            actor=portal_actor(request), repository=repository, image=request.POST.get("image", ""),
            tag=request.POST.get("tag", ""), reason=request.POST.get("reason", ""),
            file=request.POST.get("file", ""), location=request.POST.get("location", ""), trigger=Trigger.PORTAL)
    except PermissionDenied as error:
        return forbidden(request, error)
    except DomainError as error:
        messages.error(request, _("Rollback refused: %(detail)s") % {"detail": _detail(error)})
    else:
        messages.success(request, _("Rolling back %(image)s to %(tag)s (bump #%(bump)s); pinned until unpinned.")
                         % {"image": pin.image, "tag": pin.tag, "bump": bump.pk})
    return redirect(back)


@login_required
@require_POST
def image_unpin_view(request, pk: int):
    from console.services.pins import image_unpin

    repository = visible_repository(request, pk)
    if denied := refusal(request, "repository.pin", repository):
        return denied
    back = safe_next(request, reverse("portal:repository", args=[repository.pk]) + "#image-pins")
    try:
        pin = image_unpin(actor=portal_actor(request), repository=repository, image=request.POST.get("image", ""),
                          reason=request.POST.get("reason", ""))
    except PermissionDenied as error:
        return forbidden(request, error)
    except DomainError as error:
        messages.error(request, _detail(error))
    else:
        messages.success(request, _("%(image)s unpinned: automatic and CI bumps may move it again.")
                         % {"image": pin.image})
    return redirect(back)


STEP_LABELS = {
    "commit": _lazy("application commit"), "app_sync": _lazy("application repository synced"),
    "build": _lazy("image built"), "registry": _lazy("discovered in the registry"), "bump": _lazy("bump"),
    "infra_commit": _lazy("infra repository changed"), "infra_sync": _lazy("infra repository synced"),
    "deployment": _lazy("deployment"), "running": _lazy("seen running"),
}


@login_required
@require_safe
def image_tag_ledger_view(request, image: str, tag: str):
    from console.services.ledger import image_tag_ledger

    ledger = image_tag_ledger(user=request.user, image=image, tag=tag)
    for step in ledger["steps"]:
        step["label"] = STEP_LABELS.get(step["step"], step["step"])
        step["details"] = {k: v for k, v in step.items()
                           if k not in ("step", "at", "label", "since_previous_seconds") and v not in (None, "")}
    return render(request, "portal/image_ledger.html", {"ledger": ledger})


@login_required
@require_safe
def image_inventory_view(request):
    from django.core.paginator import Paginator
    from django.http import HttpResponse

    from console.services.ledger import image_inventory, inventory_csv

    filters = {name: request.GET.get(name, "").strip() for name in ("image", "tag", "organization", "project")}
    try:
        entries = image_inventory(actor=portal_actor(request), **filters)
    except PermissionDenied as error:
        return forbidden(request, error)
    if request.GET.get("export") == "csv":
        response = HttpResponse(inventory_csv(entries), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="image-inventory.csv"'
        return response
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return render(request, "portal/image_inventory.html", {"page": page, "filters": filters, "query": query})
