"""Container registries a project registers, the images it watches and the tag policy per image and infra
repository. The watch itself (a run kind) lives in console.services.registry_watch."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from console.authorization import authorize
from console.models import ContainerRegistry, Project, Repository, TagPolicy, TagPolicyKind, WatchedImage
from console.services.actors import Actor
from console.services.audit import audit_record, audit_snapshot
from console.services.errors import Conflict, DomainError
from console.services.validation import full_clean_or_raise
from provisioning.errors import InvalidInput
from provisioning.registry import TagPolicy as PolicySpec
from provisioning.registry import validate_repository_name


def _check_url(url: str) -> None:
    from console.network import repository_url_problem, validate_url_syntax

    try:
        validate_url_syntax(url)
    except ValidationError as error:
        raise DomainError({"url": error.messages}, code="invalid") from error
    if problem := repository_url_problem(url):
        raise DomainError({"url": problem.messages}, code=problem.code or "invalid")


def registry_register(*, actor: Actor, project: Project, name: str, url: str, username: str = "", token: str = "",
                      images: list[str] | None = None) -> ContainerRegistry:
    """Register a registry (credentials optional, the token encrypted at rest and never shown) and the
    image repositories to watch in it."""
    authorize(actor, "registry.manage", project)
    if project.status == Project.Status.ARCHIVED:
        raise Conflict(_("the project is archived"))
    url = (url or "").strip().rstrip("/")
    _check_url(url)
    registry = ContainerRegistry(project=project, name=(name or "").strip(), url=url, username=username.strip(),
                                 token=token.strip())
    full_clean_or_raise(registry, exclude=["project"])
    names = [_image_name(image) for image in images or []]
    try:
        with transaction.atomic():
            registry.save()
            for image in dict.fromkeys(names):
                WatchedImage.objects.create(registry=registry, repository=image)
            audit_record(actor=actor, action="registry.register", target=registry,
                         after={**audit_snapshot(registry), "images": names})
    except IntegrityError as error:
        raise Conflict(_("the project already has a registry named %(name)s") % {"name": registry.name},
                       code="registry_exists") from error
    return registry


def _image_name(image: str) -> str:
    try:
        return validate_repository_name((image or "").strip().strip("/"))
    except InvalidInput as error:
        raise DomainError({"images": [error.message]}, code=error.code) from error


def registry_image_watch(*, actor: Actor, registry: ContainerRegistry, image: str) -> WatchedImage:
    authorize(actor, "registry.manage", registry.project)
    name = _image_name(image)
    watched, created = WatchedImage.objects.get_or_create(registry=registry, repository=name)
    if created:
        audit_record(actor=actor, action="registry.image_watch", target=registry, after={"image": name})
    return watched


def tag_policy_set(*, actor: Actor, image: WatchedImage, repository: Repository, kind: str = TagPolicyKind.SEMVER,
                   constraint: str = "", pattern: str = "", include_prereleases: bool = False,
                   auto_bump: bool = False) -> TagPolicy:
    """The policy of one watched image in one infra repository of the same project (created or replaced)."""
    authorize(actor, "registry.manage", repository.project)
    if repository.project_id != image.registry.project_id:
        raise DomainError({"repository": [_("the infra repository must belong to the registry's project")]},
                          code="other_project")
    if not repository.is_infra:
        raise DomainError({"repository": [_("tag policies apply to infra repositories")]}, code="not_infra")
    try:
        PolicySpec(kind=kind, constraint=constraint.strip(), pattern=pattern.strip(),
                   include_prereleases=include_prereleases)
    except InvalidInput as error:
        # Named after the field at fault, so a form can show the message next to it.
        field = {"semver": "constraint", "regex": "pattern", "latest_build": "pattern"}.get(kind, "kind")
        raise DomainError({field: [error.message]}, code=error.code) from error
    with transaction.atomic():
        policy, _created = TagPolicy.objects.select_for_update().get_or_create(image=image, repository=repository)
        before = audit_snapshot(policy)
        policy.kind, policy.constraint, policy.pattern = kind, constraint.strip(), pattern.strip()
        policy.include_prereleases, policy.auto_bump = include_prereleases, auto_bump
        policy.save()
        audit_record(actor=actor, action="registry.tag_policy", target=repository, before=before,
                     after=audit_snapshot(policy))
    return policy


def policy_spec(policy: TagPolicy) -> PolicySpec:
    return PolicySpec(kind=policy.kind, constraint=policy.constraint, pattern=policy.pattern,
                      include_prereleases=policy.include_prereleases)


def registry_update(*, actor: Actor, registry: ContainerRegistry, url: str, username: str = "",
                    token: str = "", drop_token: bool = False) -> ContainerRegistry:
    """New URL or credentials. An empty ``token`` keeps the stored one, ``drop_token`` forgets it; a new URL
    with a stored token needs the token again (or dropping it)."""
    authorize(actor, "registry.manage", registry.project)
    if registry.project.status == Project.Status.ARCHIVED:
        raise Conflict(_("the project is archived"))
    url = (url or "").strip().rstrip("/")
    _check_url(url)
    token = (token or "").strip()
    if url != registry.url and registry.token and not token and not drop_token:
        # The stored token was given for this registry only: otherwise whoever may edit the URL could point it
        # at a server of their own and collect the token from the watch's next request.
        raise DomainError({"token": [_("changing the registry URL needs its token again (or dropping it): the "
                                       "stored token is only ever sent to the URL it was given with")]},
                          code="token_required_for_new_url")
    before = audit_snapshot(registry)
    registry.url, registry.username = url, (username or "").strip()
    if token:
        registry.token = token
    elif drop_token:
        registry.token = ""
    full_clean_or_raise(registry, exclude=["project"])
    with transaction.atomic():
        registry.save()
        audit_record(actor=actor, action="registry.update", target=registry, before=before,
                     after=audit_snapshot(registry))
    return registry


def registry_remove(*, actor: Actor, registry: ContainerRegistry) -> None:
    """Forget the registry, its watched images, their discovered tags, policies and watch runs."""
    authorize(actor, "registry.manage", registry.project)
    with transaction.atomic():
        audit_record(actor=actor, action="registry.remove", target=registry.project,
                     before={**audit_snapshot(registry), "images": list(
                         registry.images.values_list("repository", flat=True))})
        registry.delete()


def registry_image_unwatch(*, actor: Actor, image: WatchedImage) -> None:
    """Stop watching one image repository (its discovered tags and policies go with it)."""
    authorize(actor, "registry.manage", image.registry.project)
    with transaction.atomic():
        audit_record(actor=actor, action="registry.image_unwatch", target=image.registry,
                     before={"image": image.repository})
        image.delete()
