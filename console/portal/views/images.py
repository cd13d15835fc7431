"""Image tags in the portal: what the project page (redeploy warnings) and an infra repository's page
(inventory, tag history, bumps) show. The bump action itself is in ``repositories``."""

from __future__ import annotations

from django.core.paginator import Paginator

from console.models.images import ImageRelease
from console.portal.forms import ImageBumpForm
from console.portal.views.deployments import with_rollouts
from console.services.image_history import ALONG_CHOICES, ALONG_DEPLOY, image_tag_history
from console.services.images import redeploy_warnings

TAG_CHANGES_PER_PAGE = 50
RECENT_BUMPS = 10


def project_redeploy_warnings(project) -> list[dict]:
    """The service's warnings, with the labels the project page shows."""
    labels = dict(ImageRelease.Source.choices)
    warnings = redeploy_warnings(project)
    for warning in warnings:
        warning["source_label"] = str(labels.get(warning["source"], warning["source"]))
    return warnings


def images_context(request, repository, *, bump_form: ImageBumpForm | None = None) -> dict:
    """What the repository page adds for an infra repository: inventory, tag history, bumps, the bump form."""
    if not repository.is_infra:
        return {}
    inventory = list(repository.image_inventory.all())
    along = request.GET.get("along")
    along = along if along in ALONG_CHOICES else ALONG_DEPLOY
    history = image_tag_history(repository=repository, along=along)
    return {
        "image_inventory": inventory,
        "tag_changes": Paginator(history, TAG_CHANGES_PER_PAGE).get_page(request.GET.get("changes_page")),
        "tag_changes_along": along,
        "image_bumps": with_rollouts(list(repository.image_bumps.select_related("actor")[:RECENT_BUMPS])),
        "bump_form": bump_form or ImageBumpForm(prefix="bump", inventory=inventory),
    }
