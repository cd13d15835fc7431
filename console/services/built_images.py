"""A built image reported by CI (or a member): the release the project should redeploy.

Until an infra repository of the project deploys the reported tag, the project shows a redeploy warning
(console.services.images keeps the warnings). The portal, the API and pipelines all report through
`built_image_report`, which authorizes first: a CI credential needs the `report_build` scope.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from console.authorization import authorize
from console.models import Repository
from console.models.images import ImageInventoryEntry, ImageRelease
from console.services.actors import Actor
from console.services.errors import DomainError
from console.services.images import image_release_record


def built_image_report(
    *, actor: Actor, repository: Repository, tag: str, image: str = "", commit_sha: str = "",
) -> ImageRelease:
    """Record the build; `image` defaults to the repository's image name."""
    authorize(actor, "repository.report_build", repository)
    image = (image or "").strip() or repository.image_name
    if not image:
        raise DomainError({"image": [_("give the image, or set the repository's image name")]})
    return image_release_record(repository=repository, image=image, tag=tag, commit_sha=commit_sha,
                                source=ImageRelease.Source.CI_REPORT)


def built_image_receipt(release: ImageRelease) -> dict:
    """What a pipeline learns about its own report: nothing about the project's other images."""
    return {
        "image": release.image, "tag": release.tag, "warning_open": release.resolved_at is None,
        "bump_candidates": ImageInventoryEntry.objects.filter(
            repository__project_id=release.project_id, image=release.image
        ).count(),
    }
