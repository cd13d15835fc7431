from __future__ import annotations

from django.db import IntegrityError, transaction

from console.models import Project, Repository, Trigger
from console.permissions import MANAGE, has_project_role
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import Conflict, DomainError, PermissionDenied
from console.services.validation import full_clean_or_raise
from provisioning.netguard import normalized_url

EDITABLE_FIELDS = (
    "external_url", "is_private", "username", "token", "is_infra", "deploy_kind", "deploy_path",
    "deploy_revision", "helm_value_files", "image_name",
)


def _public_state(repository: Repository) -> dict:
    state = {name: getattr(repository, name) for name in EDITABLE_FIELDS if name != "token"}
    state["token_is_set"] = repository.token_is_set
    return state


def repository_register(*, actor: Actor, project: Project, name: str, external_url: str, **fields) -> Repository:
    """Register an external repository; a worker creates its internal copy and runs the initial sync."""
    if not has_project_role(actor.user, project, MANAGE):
        raise PermissionDenied("registering a repository needs the maintainer role")
    if project.status == Project.Status.ARCHIVED:
        raise Conflict("the project is archived")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise DomainError(f"unknown fields: {', '.join(sorted(unknown))}")
    fields.setdefault("helm_value_files", [])
    if fields.get("deploy_kind") is None:
        fields["deploy_kind"] = ""
    if Repository.objects.filter(project=project, name=name).exists():
        raise DomainError({"name": [f"repository {name!r} already exists in {project}"]}, code="duplicate")
    repository = Repository(project=project, name=name, external_url=external_url, **fields)
    if repository.deploy_kind == "helm" and not repository.helm_value_files:
        repository.helm_value_files = ["values.yaml"]
    full_clean_or_raise(repository, exclude=["internal_path", "internal_url", "default_branch"])
    from console.services.provisioning import forge_clone_url, repository_forge_path
    from console.services.projects import project_provision_request
    from console.services.syncs import sync_request

    repository.internal_path = repository_forge_path(repository)
    repository.internal_url = forge_clone_url(repository)
    try:
        with transaction.atomic():
            repository.save()
            audit_record(actor=actor, action="repository.register", target=repository, after=_public_state(repository))
            sync_request(actor=actor, repository=repository, trigger=Trigger.INITIAL, check_permission=False)
            # The AppProject must now allow this repository as a source.
            project_provision_request(actor=actor, project=project, trigger=Trigger.INITIAL, check_permission=False)
    except IntegrityError as exc:
        raise DomainError({"name": [f"repository {name!r} already exists in {project}"]}, code="duplicate") from exc
    return repository


def repository_update(*, actor: Actor, repository: Repository, **changes) -> Repository:
    if not has_project_role(actor.user, repository.project, MANAGE):
        raise PermissionDenied("editing a repository needs the maintainer role")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise DomainError(f"these fields cannot be changed: {', '.join(sorted(unknown))}")
    before = _public_state(repository)
    if "external_url" in changes and repository.token and "token" not in changes and (
            normalized_url(changes["external_url"] or "") != normalized_url(repository.external_url)):
        # The stored token was given for this repository only. Otherwise whoever may edit the URL could point
        # it at another repository the token can read (same host or not) and mirror it into this project, or
        # at their own server and collect the token through git's credential prompt, without ever seeing it.
        raise DomainError(
            {"token": ["changing the repository URL needs its token again (or an empty one to drop it): the "
                       "stored token is only ever used for the URL it was given with"]},
            code="token_required_for_new_url",
        )
    for field, value in changes.items():
        setattr(repository, field, value)
    full_clean_or_raise(repository)
    from console.services.projects import project_provision_request

    with transaction.atomic():
        repository.save()
        audit_record(actor=actor, action="repository.update", target=repository, before=before,
                     after=_public_state(repository))
        if any(before[f] != getattr(repository, f) for f in ("is_infra", "deploy_kind", "deploy_path",
                                                            "deploy_revision", "helm_value_files")):
            project_provision_request(actor=actor, project=repository.project, trigger=actor.interface
                                      if actor.interface in Trigger.values else Trigger.PORTAL,
                                      check_permission=False)
    return repository
