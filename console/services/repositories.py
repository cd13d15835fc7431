from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from console.authorization import authorize
from console.models import ImageBump, ImageRelease, Project, ProvisioningCause, Repository, SyncRun, Trigger
from console.models.validators import validate_external_url
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import Conflict, DomainError
from console.services.validation import full_clean_or_raise
from provisioning.manifests import application_name_for
from provisioning.netguard import normalized_url

EDITABLE_FIELDS = (
    "external_url", "is_private", "username", "token", "is_infra", "deploy_kind", "deploy_path",
    "deploy_revision", "helm_value_files", "image_name",
)


def _public_state(repository: Repository) -> dict:
    state = {name: getattr(repository, name) for name in EDITABLE_FIELDS if name != "token"}
    state["token_is_set"] = repository.token_is_set
    return state


def _check_application_name(repository: Repository) -> None:
    """An infra repository becomes an Argo CD Application named "<namespace>-<name>" in the namespace all
    projects share: another project's Application of the same name would be overwritten by this one."""
    if not repository.is_infra:
        return
    project = repository.project
    name = application_name_for(project.organization.slug, project.slug, repository.name)
    # Short names are "<namespace>-<repository>"; long ones end in a hash of the identity and cannot meet.
    namespaces = [name[:i] for i, char in enumerate(name) if char == "-"]
    others = (Repository.objects.filter(is_infra=True, project__namespace__in=namespaces)
              .exclude(project=project).select_related("project__organization"))
    for other in others:
        if application_name_for(other.project.organization.slug, other.project.slug, other.name) == name:
            raise DomainError(
                {"name": [_("the Argo CD application %(name)s already belongs to %(other)s: choose another "
                      "name") % {
                    "name": repr(name),
                    "other": other,
                }]},
                code="duplicate",
            )


def repository_register(*, actor: Actor, project: Project, name: str, external_url: str, **fields) -> Repository:
    """Register an external repository; a worker creates its internal copy and runs the initial sync."""
    authorize(actor, "repository.register", project)
    if project.status == Project.Status.ARCHIVED:
        raise Conflict(_("the project is archived"))
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise DomainError(_("unknown fields: %(value)s") % {"value": ', '.join(sorted(unknown))})
    fields.setdefault("helm_value_files", [])
    if fields.get("deploy_kind") is None:
        fields["deploy_kind"] = ""
    if Repository.objects.filter(project=project, name=name).exists():
        raise DomainError({"name": [_("repository %(name)s already exists in %(project)s") % {
            "name": repr(name),
            "project": project,
        }]}, code="duplicate")
    repository = Repository(project=project, name=name, external_url=external_url, **fields)
    if repository.deploy_kind == "helm" and not repository.helm_value_files:
        repository.helm_value_files = ["values.yaml"]
    full_clean_or_raise(repository, exclude=["internal_path", "internal_url", "default_branch"])
    _check_application_name(repository)
    from console.services.projects import project_provision_request
    from console.services.provisioning import forge_clone_url, repository_forge_path
    from console.services.syncs import sync_request

    repository.internal_path = repository_forge_path(repository)
    repository.internal_url = forge_clone_url(repository)
    try:
        with transaction.atomic():
            repository.save()
            audit_record(actor=actor, action="repository.register", target=repository, after=_public_state(repository))
            sync_request(actor=actor, repository=repository, trigger=Trigger.INITIAL)
            # The AppProject must now allow this repository as a source.
            project_provision_request(actor=actor, project=project, cause=ProvisioningCause.REPOSITORY_ADDED,
                                      subject=repository.name)
    except IntegrityError as exc:
        raise DomainError({"name": [_("repository %(name)s already exists in %(project)s") % {
            "name": repr(name),
            "project": project,
        }]}, code="duplicate") from exc
    return repository


# Changes the AppProject/Applications depend on: they need a provisioning run.
PROVISIONED_FIELDS = ("is_infra", "deploy_kind", "deploy_path", "deploy_revision", "helm_value_files")
# Changes that decide whether a sync can succeed: a fixed URL or token is tried at once.
SOURCE_FIELDS = ("external_url", "is_private", "username", "token")


def repository_update(*, actor: Actor, repository: Repository, **changes) -> Repository:
    """Edit the URL, credentials or deployment settings (portal, API and admin all come here).

    A new URL or credentials queue a sync, so a repository registered with a wrong token recovers without
    anything else; new deployment settings queue a provisioning run, which rewrites the manifests.
    """
    authorize(actor, "repository.manage", repository, doing=_("editing a repository"))
    if repository.project.status == Project.Status.ARCHIVED:
        raise Conflict(_("the project is archived"))
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise DomainError(_("these fields cannot be changed: %(value)s") % {
            "value": ', '.join(sorted(unknown)),
        })
    before = _public_state(repository)
    old_token = repository.token
    if "external_url" in changes:
        # A URL that is not one at all is said so first: asking for the token again would not help.
        try:
            validate_external_url(changes["external_url"] or "")
        except ValidationError as error:
            raise DomainError({"external_url": error.messages}, code="invalid") from error
    if "external_url" in changes and repository.token and "token" not in changes and (
            normalized_url(changes["external_url"] or "") != normalized_url(repository.external_url)):
        # The stored token was given for this repository only. Otherwise whoever may edit the URL could point
        # it at another repository the token can read (same host or not) and mirror it into this project, or
        # at their own server and collect the token through git's credential prompt, without ever seeing it.
        raise DomainError(
            {"token": [_("changing the repository URL needs its token again (or an empty one to drop it): the "
                  "stored token is only ever used for the URL it was given with")]},
            code="token_required_for_new_url",
        )
    for field, value in changes.items():
        setattr(repository, field, value)
    if repository.deploy_kind == "helm" and not repository.helm_value_files:
        repository.helm_value_files = ["values.yaml"]
    full_clean_or_raise(repository)
    if not before["is_infra"]:
        _check_application_name(repository)
    after = _public_state(repository)
    changed = [f for f in EDITABLE_FIELDS if f != "token" and before[f] != after[f]]
    if repository.token != old_token:
        changed.append("token")
    if not changed:
        return repository
    from console.services.projects import project_provision_request
    from console.services.syncs import sync_request

    with transaction.atomic():
        repository.save()
        audit_record(actor=actor, action="repository.update", target=repository, before=before,
                     after={**after, "changed": changed})
        if any(f in changed for f in PROVISIONED_FIELDS):
            project_provision_request(actor=actor, project=repository.project,
                                      cause=ProvisioningCause.REPOSITORY_UPDATED, subject=repository.name)
        if any(f in changed for f in SOURCE_FIELDS):
            sync_request(actor=actor, repository=repository, trigger=_trigger_for(actor))
    return repository


def repository_remove(*, actor: Actor, repository: Repository):
    """Stop mirroring a repository and forget it; returns the provisioning run (a RunRequest) that rewrites
    the manifests without it and archives its internal mirror.

    The internal mirror is archived, not deleted: renamed to ``<name>-removed-<id>`` beside where it was, so
    the name can be registered again while Argo CD and people can still read the old history. The console's
    own records of the repository (sync history, image tags, CI tokens) go with it; the audit log keeps
    what it was.
    """
    project = repository.project
    authorize(actor, "repository.manage", repository, doing=_("removing a repository"))
    if project.status == Project.Status.ARCHIVED:
        raise Conflict(_("the project is archived: its repositories are kept as they were"))
    from console.services.projects import project_provision_request

    with transaction.atomic():
        # Locks the row: a sync or bump claimed meanwhile waits, then finds the repository gone.
        Repository.objects.select_for_update().filter(pk=repository.pk).exists()
        busy = (SyncRun.objects.filter(repository=repository, status="running").first()
                or ImageBump.objects.filter(repository=repository, status="running").first())
        if busy is not None:
            # Its push could land after the mirror is archived and recreate it; let it finish first.
            raise Conflict(_("%(busy)s is in progress: remove the repository when it has finished") % {
                "busy": busy,
            },
                           code="repository_busy")
        ImageRelease.objects.filter(repository=repository, resolved_at__isnull=True).update(
            resolved_at=timezone.now())
        audit_record(actor=actor, action="repository.remove", target=repository,
                     before={"name": repository.name, **_public_state(repository),
                             "internal_path": repository.internal_path})
        repository_id, internal_path, name = repository.pk, repository.internal_path, repository.name
        repository.delete()
        request = project_provision_request(
            actor=actor, project=project, cause=ProvisioningCause.REPOSITORY_REMOVED, subject=name,
            detail={"repository_id": repository_id, "internal_path": internal_path},
        )
    return request


def _trigger_for(actor: Actor) -> str:
    return actor.interface if actor.interface in Trigger.values else Trigger.PORTAL
