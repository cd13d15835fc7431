"""What runs, on the project and repository pages: Argo CD's view per infra repository, drift, quota usage,
built images seen running; and the refresh button."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.models import BumpRollout, Deployment, DriftRecord, ProjectObservation
from console.models.images import ImageRelease
from console.portal.views.common import forbidden, portal_actor
from console.services.errors import DomainError, PermissionDenied
from console.services.readback import readback_refresh_request

DRIFT_SHOWN = 50
RELEASES_SHOWN_DAYS = 7


def quota_rows(observation: ProjectObservation | None) -> list[dict]:
    if observation is None or observation.quota_observed_at is None:
        return []
    used = observation.quota_used or {}
    return [{"resource": name, "used": used.get(name, "0"), "hard": hard}
            for name, hard in sorted((observation.quota_hard or {}).items())]


# The console's quota resources (console.models.quotas) and the ResourceQuota key whose status.used says
# how much of each is in use: requests are what the scheduler counts against the namespace.
QUOTA_USAGE_KEYS = {"cpu": "requests.cpu", "memory": "requests.memory", "storage": "requests.storage",
                    "pods": "pods", "services": "services"}


def observed_quota_usage(runtime: dict) -> dict | None:
    """What the project uses of each quota resource, as last read back from its cluster (None: never read)."""
    observation = runtime.get("observation")
    if observation is None or observation.quota_observed_at is None:
        return None
    used = observation.quota_used or {}
    return {resource: used[key] for resource, key in QUOTA_USAGE_KEYS.items() if key in used}


def release_states(project, deployments: list[Deployment]) -> list[dict]:
    """Built images bumped lately: "deployed" once running, otherwise waiting for the cluster (only said when
    a cluster is read back; without one, Git is all the console knows). A release a newer build replaced
    before any infra repository set it was never bumped: it is not listed."""
    if not any(d.observed_at for d in deployments):
        return []
    since = timezone.now() - timedelta(days=RELEASES_SHOWN_DAYS)
    releases = (ImageRelease.objects.filter(project=project, resolved_at__gte=since).exclude(tag="")
                .filter(Q(resolved_by__isnull=False) | Q(deployment__isnull=False))
                .select_related("deployment").order_by("-resolved_at")[:20])
    states = []
    for release in releases:
        deployment = getattr(release, "deployment", None) if hasattr(release, "deployment") else None
        states.append({"image": release.image, "tag": release.tag, "deployed": deployment is not None,
                       "running_image": deployment.running_image if deployment else "",
                       "deployed_at": deployment.deployed_at if deployment else None})
    return states


def project_runtime(project) -> dict:
    """The project page's "what runs" section, in a constant number of queries."""
    deployments = list(Deployment.objects.filter(project=project).select_related("repository")
                       .order_by("application"))
    observation = ProjectObservation.objects.filter(project=project).first()
    return {
        "deployments": deployments,
        "observation": observation,
        "observed_quota_rows": quota_rows(observation),
        "drift_records": list(DriftRecord.objects.filter(project=project, resolved_at__isnull=True)
                              .select_related("correction_run").order_by("kind", "name")[:DRIFT_SHOWN]),
        "drift_resolved_count": DriftRecord.objects.filter(project=project, resolved_at__isnull=False).count(),
        "release_states": release_states(project, deployments),
    }


def repository_runtime(repository) -> dict:
    deployment = Deployment.objects.filter(repository=repository).first()
    return {"deployment": deployment}


def with_rollouts(bumps: list) -> list:
    """Each bump with its rollout (one query for the list)."""
    rollouts = {r.bump_id: r for r in BumpRollout.objects.filter(bump_id__in=[b.pk for b in bumps])}
    for bump in bumps:
        bump.followed = rollouts.get(bump.pk)
    return bumps


@login_required
@require_POST
def project_refresh(request, pk: int):
    from console.portal.views.projects import visible_project

    project = visible_project(request, pk)
    try:
        readback_refresh_request(actor=portal_actor(request), project=project)
    except PermissionDenied as error:
        return forbidden(request, error)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.info(request, _("Reading back what runs; reload the page in a moment."))
    return redirect("portal:project", pk=project.pk)
