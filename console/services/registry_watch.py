"""The registry watch (a run kind): list each watched image's tags, record the new ones with their digest
(and build time when a latest-build policy needs it), let each tag policy select, and act on a new selection:
a redeploy warning with a one-click bump (default), or an automatic bump through the bump service (opt-in).
A pin wins over both: the warning says the image is pinned, no bump is asked for.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from console.authorization import authorize
from console.models import ContainerRegistry, DiscoveredTag, Project, RegistryWatchRun, RunStatus, TagPolicy, Trigger
from console.models.images import ImageInventoryEntry, ImageRelease
from console.services import run_kinds
from console.services.actors import Actor
from console.services.errors import Conflict, DomainError
from console.services.runs import RunRequest, claim_run, finish_run, handle_failure
from provisioning.errors import ProvisioningError
from provisioning.registry import LATEST_BUILD, RegistryClient, select
from provisioning.registry.policy import candidates_needing_created

log = logging.getLogger(__name__)

WATCH_ACTOR_LABEL = "registry-watch"


def registry_watch_request(*, actor: Actor, registry: ContainerRegistry, trigger: str = Trigger.API) -> RunRequest:
    authorize(actor, "registry.manage", registry.project, doing="checking a registry")
    if registry.project.status == Project.Status.ARCHIVED:
        raise Conflict("the project is archived")
    return run_kinds.run_request("registry_watch", resource=registry, actor=actor, trigger=trigger)


def registry_watch_sweep(*, now=None) -> dict[str, int]:
    """Beat: ask a watch of every registry with watched images whose last watch is older than the interval
    (coalesced with a queued one like any request)."""
    now = now or timezone.now()
    due_before = now - timedelta(seconds=settings.REGISTRY_WATCH_INTERVAL_SECONDS)
    # A locked project is not watched at all: its automatic bumps would only be refused.
    registries = (ContainerRegistry.objects.filter(images__isnull=False, project__locked_at__isnull=True)
                  .exclude(project__status=Project.Status.ARCHIVED)
                  .annotate(last=Max("watch_runs__queued_at"))
                  .filter(Q(last__isnull=True) | Q(last__lt=due_before)).distinct().select_related("project"))
    actor = Actor.system(WATCH_ACTOR_LABEL)
    asked = 0
    for registry in registries:
        run_kinds.run_request("registry_watch", resource=registry, actor=actor, trigger=Trigger.SCHEDULE)
        asked += 1
    return {"asked": asked}


def registry_client(registry: ContainerRegistry) -> RegistryClient:
    from console.network import repository_network_policy
    from provisioning.netguard import UrlRefused, check_url, origin_of

    policy = repository_network_policy()
    checked: set[str] = set()

    def allowed(url: str) -> None:
        # The policy is about hosts: each origin (the registry's, its token realm's) is checked once per run.
        origin = origin_of(url)
        if origin in checked:
            return
        try:
            check_url(origin + "/", policy)
            checked.add(origin)
        except UrlRefused as refused:
            raise ProvisioningError(f"the registry (or its token service) is not reachable from the console: "
                                    f"{refused.message}", code=refused.code) from None

    return RegistryClient(registry.url, username=registry.username, password=registry.token,
                          timeout=settings.REGISTRY_TIMEOUT_SECONDS, check_url=allowed)


def registry_watch_execute(*, run_id: int, task_id: str) -> None:
    run = claim_run(RegistryWatchRun, run_id=run_id, task_id=task_id)
    if run is None:
        return
    registry = ContainerRegistry.objects.select_related("project").get(pk=run.registry_id)
    try:
        result = _watch(registry)
    except Exception as error:  # noqa: BLE001 - every failure ends the run with its reason
        handle_failure(run, error, secrets=(registry.token,))
    else:
        failed = [image for image in result["images"] if image.get("error")]
        problems = {}
        if failed:
            # Every image failing is a failed watch (with the first image's reason); some failing, a partial one.
            everything = len(failed) == len(result["images"])
            problems = {"error_code": failed[0]["code"] if everything else "partial",
                        "error_message": "; ".join(f"{i['image']}: {i['error']}" for i in failed)[:4000]}
        if failed and len(failed) == len(result["images"]):
            status = RunStatus.FAILED
        else:
            status = RunStatus.SUCCEEDED if result["new_tags"] or result["selected"] else RunStatus.NO_CHANGE
        finish_run(run, status=status, result=result, **problems)
    run_kinds.enqueue_next("registry_watch", registry)


def _watch(registry: ContainerRegistry) -> dict:
    client = registry_client(registry)
    report = {"images": [], "new_tags": 0, "selected": [], "requests": 0}
    images = list(registry.images.prefetch_related("policies__repository__project"))
    for image in images:
        entry = {"image": image.reference, "new_tags": 0}
        try:
            entry["new_tags"] = _discover(client, image)
            image.last_error_code = image.last_error = ""
        except ProvisioningError as error:
            if error.transient and len(images) == 1:
                raise  # the run retries with backoff
            entry["error"], entry["code"] = error.message, error.code
            image.last_error_code, image.last_error = error.code, error.message[:2000]
        image.last_checked_at = timezone.now()
        image.save(update_fields=["last_checked_at", "last_error_code", "last_error"])
        report["new_tags"] += entry["new_tags"]
        if "error" not in entry:
            for policy in image.policies.all():
                outcome = _apply_policy(client, image, policy)
                if outcome:
                    report["selected"].append(outcome)
        report["images"].append(entry)
    report["requests"] = client.requests_made
    return report


def _discover(client: RegistryClient, image) -> int:
    """Record the tags not seen before, with their digests; the count of new ones."""
    known = set(image.tags.values_list("tag", flat=True))
    listed = client.list_tags(image.repository)
    fresh = [tag for tag in listed if tag not in known]
    needs_created = any(policy.kind == LATEST_BUILD for policy in image.policies.all())

    def read(tag: str) -> DiscoveredTag:
        digest = client.manifest_digest(image.repository, tag)
        created = client.created_at(image.repository, tag) if needs_created else None
        return DiscoveredTag(image=image, tag=tag, digest=digest, created=created)

    # One manifest request per new tag: a few at a time, since each waits on the registry's round trip.
    with ThreadPoolExecutor(max_workers=max(1, settings.REGISTRY_WATCH_CONCURRENCY)) as pool:
        rows = list(pool.map(read, fresh))
    DiscoveredTag.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _apply_policy(client: RegistryClient, image, policy: TagPolicy) -> dict | None:
    from console.services.registries import policy_spec

    spec = policy_spec(policy)
    tags = dict(image.tags.values_list("tag", "created"))
    if spec.kind == LATEST_BUILD:
        # Tags discovered before a latest-build policy existed have no build time yet: read it once.
        for tag in candidates_needing_created(spec, [t for t, created in tags.items() if created is None]):
            tags[tag] = client.created_at(image.repository, tag)
            DiscoveredTag.objects.filter(image=image, tag=tag).update(created=tags[tag])
    chosen = select(spec, tags, created=tags)
    if not chosen or chosen == policy.selected_tag:
        return None
    repository = policy.repository
    reference = image.reference
    places = list(ImageInventoryEntry.objects.filter(repository=repository, image=reference))
    if places and all(place.tag == chosen for place in places):
        # Git says so, not the cluster: whether it runs is the read-back's to tell.
        outcome = f"already set in {repository.name}"
    else:
        outcome = _act(policy, reference, chosen)
    TagPolicy.objects.filter(pk=policy.pk).update(selected_tag=chosen, selected_at=timezone.now(),
                                                  outcome=outcome[:300])
    return {"image": reference, "repository": repository.name, "tag": chosen, "outcome": outcome}


def _act(policy: TagPolicy, reference: str, tag: str) -> str:
    from console.services.image_bumps import image_tag_bump_request
    from console.services.images import image_release_record
    from console.services.pins import active_pin

    repository = policy.repository
    pin = active_pin(repository=repository, image=reference)
    if policy.auto_bump and pin is None:
        try:
            with transaction.atomic():
                bump = image_tag_bump_request(
                    actor=Actor.system(WATCH_ACTOR_LABEL), repository=repository, image=reference, tag=tag,
                    reason=f"registry watch: {policy.get_kind_display()} {policy.constraint or policy.pattern}".strip(),
                    trigger=Trigger.SCHEDULE)
            return f"bump #{bump.pk} queued"
        except DomainError as error:
            log.info("automatic bump of %s to %s in %s refused: %s", reference, tag, repository, error.message)
            refused = f"automatic bump refused ({error.message}); "
    else:
        refused = ""
    # The warning of the project page and API, with its one-click bump (or the pin's who and why).
    image_release_record(repository=repository, image=reference, tag=tag, commit_sha="",
                         source=ImageRelease.Source.REGISTRY)
    from console.services.notifications import notify_safely

    notify_safely(project=repository.project_id, event="new_tag_waiting",
                  payload={"repository": repository.name, "image": reference, "tag": tag,
                           "pinned": pin.refusal if pin is not None else None})
    if pin is not None:
        return f"{refused}waiting: {pin.refusal}"
    return f"{refused}waiting for a bump"
