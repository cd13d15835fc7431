from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from console.authorization import authorize
from console.models import Membership, Organization, Project, ProvisioningCause, ProvisioningRun, Role, Trigger
from console.models.quotas import QUANTITY_RESOURCES, QUOTA_RESOURCES
from console.models.validators import validate_tenant_namespace
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import Conflict, DomainError
from console.services import run_kinds
from console.services.runs import RunRequest
from console.services.validation import full_clean_or_raise
from provisioning import quantities
from provisioning.errors import InvalidInput
from provisioning.manifests import namespace_name


def project_create(
    *, actor: Actor, organization: Organization, slug: str, name: str = "", description: str = "",
    quota: dict | None = None,
) -> tuple[Project, ProvisioningRun]:
    """Record the project and its provisioning run now; a worker provisions it.

    ``quota`` (resource -> amount, any of cpu, memory, storage, pods, services) overrides the platform's
    defaults; a default larger than the organization's limit is lowered to the limit.
    """
    authorize(actor, "project.create", organization, doing=_("creating a project"))
    if Project.objects.filter(organization=organization, slug=slug).exists():
        raise DomainError({"slug": [_("project %(slug)s already exists in %(slug2)s") % {
            "slug": repr(slug),
            "slug2": organization.slug,
        }]}, code="duplicate")
    project = Project(organization=organization, slug=slug, name=name or slug, description=description)
    _default_within_limits(project, organization)
    _set_quota(project, quota)
    full_clean_or_raise(project, exclude=["namespace"])
    try:
        project.namespace = namespace_name(organization.slug, slug)
    except InvalidInput as exc:
        raise DomainError({"slug": [exc.message]}, code="invalid") from exc
    try:
        validate_tenant_namespace(project.namespace)
    except ValidationError as exc:
        raise DomainError({"slug": exc.messages}, code="reserved_namespace") from exc
    taken = Project.objects.filter(namespace=project.namespace).select_related("organization").first()
    if taken is not None:
        raise DomainError(
            {"slug": [_("the namespace %(namespace)s is already used by %(taken)s: choose another slug") % {
                "namespace": repr(project.namespace),
                "taken": taken,
            }]},
            code="duplicate",
        )
    try:
        with transaction.atomic():
            project.save()
            if actor.user is not None and actor.user.pk and not actor.is_staff:
                # The organization role already covers the creator; an explicit owner row keeps the
                # project owned if that role is later reduced.
                Membership.objects.get_or_create(
                    user=actor.user, organization=organization, project=project, defaults={"role": Role.OWNER}
                )
            audit_record(actor=actor, action="project.create", target=project,
                         after={"slug": slug, "name": project.name, "namespace": project.namespace,
                                "quota": project.quota})
            request = project_provision_request(actor=actor, project=project, trigger=_trigger_for(actor),
                                                cause=ProvisioningCause.PROJECT_CREATED)
    except IntegrityError as exc:
        if "project_namespace_unique" in str(exc):  # another request took the namespace meanwhile
            message = f"the namespace {project.namespace!r} is already used by another project: choose another slug"
        else:
            message = f"project {slug!r} already exists in {organization.slug}"
        raise DomainError({"slug": [message]}, code="duplicate") from exc
    return project, request.run


def project_update(*, actor: Actor, project: Project, name: str | None = None,
                   description: str | None = None, quota: dict | None = None) -> Project:
    """Rename or describe the project, or change its quota (within the organization's limits), which
    re-provisions it so the ResourceQuota follows."""
    authorize(actor, "project.edit", project)
    before = {"name": project.name, "description": project.description, "quota": project.quota}
    if name is not None:
        project.name = name
    if description is not None:
        project.description = description
    _set_quota(project, quota)
    full_clean_or_raise(project)
    quota_changed = project.quota != before["quota"]
    if quota_changed and project.status == Project.Status.ARCHIVED:
        raise Conflict("the project is archived")
    with transaction.atomic():
        project.save(update_fields=["name", "description", "updated_at",
                                    *(f"quota_{resource}" for resource in QUOTA_RESOURCES)])
        audit_record(actor=actor, action="project.update", target=project, before=before,
                     after={"name": project.name, "description": project.description, "quota": project.quota})
        if quota_changed:
            project_provision_request(actor=actor, project=project, trigger=_trigger_for(actor),
                                      cause=ProvisioningCause.QUOTA_CHANGED)
    return project


def _set_quota(project: Project, quota: dict | None) -> None:
    unknown = sorted(set(quota or {}) - set(QUOTA_RESOURCES))
    if unknown:
        raise DomainError({"quota": [f"unknown quota resource {', '.join(map(repr, unknown))}: use "
                                     f"{', '.join(QUOTA_RESOURCES)}"]}, code="invalid")
    for resource, value in (quota or {}).items():
        if value is None:
            continue
        if resource in QUANTITY_RESOURCES:
            value = str(value).strip()
        setattr(project, f"quota_{resource}", value)


def _default_within_limits(project: Project, organization: Organization) -> None:
    """A platform default above the organization's limit would refuse every project asking for nothing."""
    limits = organization.quota_limits
    for resource in QUOTA_RESOURCES:
        field, limit = f"quota_{resource}", limits[resource]
        value = getattr(project, field)
        try:
            if resource in QUANTITY_RESOURCES:
                value, limit = quantities.parse(value), quantities.parse(limit)
            over = value > limit
        except (TypeError, ValueError):
            continue  # clean() reports a malformed limit
        if over:
            setattr(project, field, limits[resource])


def project_provision_request(
    *, actor: Actor, project: Project, trigger: str | None = None, cause: str | None = None, subject: str = "",
    detail: dict | None = None,
) -> RunRequest:
    """Queue (or join) a provisioning run; it re-applies everything and changes nothing when all is in place.

    ``cause`` says why (a repository added, a manual re-provision...; by default manual, or admin action
    from the admin); a request joining a queued run adds its cause to the run's list. ``detail`` is work the
    run must do for this cause, e.g. the internal path of a removed repository to archive.
    """
    authorize(actor, "project.provision", project)
    if project.status == Project.Status.ARCHIVED:
        raise Conflict(_("the project is archived"))
    cause = cause or _default_cause(actor)
    entry = {"cause": cause, **({"subject": subject} if subject else {}), **(detail or {})}
    return run_kinds.run_request(
        "provisioning", resource=project, actor=actor, trigger=trigger or _trigger_for(actor),
        extra={"action": ProvisioningRun.Action.PROVISION, "cause": cause}, append={"causes": [entry]},
    )


def _default_cause(actor: Actor) -> str:
    return ProvisioningCause.ADMIN if actor.interface == Trigger.ADMIN else ProvisioningCause.MANUAL


def project_archive(*, actor: Actor, project: Project, delete_namespace: bool = False) -> RunRequest:
    """Remove the project's manifests from the platform repository and archive its internal repositories.

    On a cluster with direct delivery the run deletes the Applications and the AppProject; the namespace
    (with every workload in it) only with ``delete_namespace``, the explicit confirmation."""
    authorize(actor, "project.archive", project)
    if project.status == Project.Status.ARCHIVED:
        raise Conflict(_("the project is already archived"))
    with transaction.atomic():
        audit_record(actor=actor, action="project.archive", target=project, before={"status": project.status},
                     after={"delete_namespace": True} if delete_namespace else None)
        # Archiving supersedes a provisioning that has not started yet.
        ProvisioningRun.objects.filter(project=project, status="queued").update(
            action=ProvisioningRun.Action.ARCHIVE
        )
        return run_kinds.run_request(
            "provisioning", resource=project, actor=actor, trigger=_trigger_for(actor),
            extra={"action": ProvisioningRun.Action.ARCHIVE, "cause": ProvisioningCause.PROJECT_ARCHIVED},
            append={"causes": [{"cause": ProvisioningCause.PROJECT_ARCHIVED,
                                **({"delete_namespace": True} if delete_namespace else {})}]},
        )


def _trigger_for(actor: Actor) -> str:
    return actor.interface if actor.interface in Trigger.values else Trigger.PORTAL
