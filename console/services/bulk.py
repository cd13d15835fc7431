"""Bulk operations on several projects at once (the platform admins' operations view): each project goes
through the same service as a single click would, and the outcome says what was queued and what was not."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from console.authorization import authorize
from console.models import Project, Trigger
from console.services.actors import Actor
from console.services.errors import DomainError
from console.services.project_locks import project_lock, project_unlock
from console.services.projects import project_archive, project_provision_request
from console.services.syncs import sync_request

BULK_ACTIONS = {
    "reprovision": gettext_lazy("Re-provision"),
    "sync": gettext_lazy("Sync all repositories"),
    "archive": gettext_lazy("Archive"),
    "lock": gettext_lazy("Lock"),
    "unlock": gettext_lazy("Unlock"),
}


@dataclass
class BulkOutcome:
    queued: list[str] = field(default_factory=list)  # "acme/shop: provisioning #12 queued"
    refused: list[str] = field(default_factory=list)  # "acme/old: the project is archived"
    done: list[str] = field(default_factory=list)  # "acme/shop: locked" (what is done at once, nothing queued)


def projects_bulk_action(*, actor: Actor, action: str, projects: list[Project], reason: str = "") -> BulkOutcome:
    """Run `action` (a key of BULK_ACTIONS) on every project; a refusal for one never stops the others.
    `reason` is the lock's (required by "lock", asked once for all the projects)."""
    authorize(actor, "platform.operations", None)
    if action not in BULK_ACTIONS:
        raise DomainError({"action": [_("unknown action %(action)s: use one of %(actions)s") % {
            "action": repr(action), "actions": ", ".join(BULK_ACTIONS)}]}, code="invalid_action")
    if not projects:
        raise DomainError({"projects": [_("select at least one project")]}, code="no_projects")
    if action == "lock" and not reason.strip():
        raise DomainError({"reason": [_("say why the projects are locked: the reason is shown to their members")]},
                          code="reason_required")
    outcome = BulkOutcome()
    for project in projects:
        try:
            if action in ("lock", "unlock"):
                outcome.done.append(_lock(actor, action, project, reason))
                continue
            outcome.queued.extend(_one(actor, action, project))
        except DomainError as error:
            outcome.refused.append(f"{project.full_slug}: {error.message}")
    return outcome


def _one(actor: Actor, action: str, project: Project) -> list[str]:
    if action == "reprovision":
        queued = project_provision_request(actor=actor, project=project, trigger=Trigger.ADMIN)
        return [_queued(project.full_slug, _("provisioning run"), queued)]
    if action == "archive":
        return [_queued(project.full_slug, _("archive run"), project_archive(actor=actor, project=project))]
    repositories = list(project.repositories.all())
    if not repositories:
        raise DomainError(_("no repository to sync"), code="no_repositories")
    return [_queued(f"{project.full_slug}/{repository.name}", _("sync run"),
                    sync_request(actor=actor, repository=repository, trigger=Trigger.ADMIN))
            for repository in repositories]


def _lock(actor: Actor, action: str, project: Project, reason: str) -> str:
    if action == "lock":
        if project_lock(actor=actor, project=project, reason=reason):
            return _("%(subject)s: locked") % {"subject": project.full_slug}
        return _("%(subject)s: already locked, its first lock kept") % {"subject": project.full_slug}
    if project_unlock(actor=actor, project=project):
        return _("%(subject)s: unlocked") % {"subject": project.full_slug}
    return _("%(subject)s: was not locked") % {"subject": project.full_slug}


def _queued(subject: str, what: str, request) -> str:
    if request.created:
        return _("%(subject)s: %(what)s #%(run)s queued") % {"subject": subject, "what": what, "run": request.run.pk}
    return _("%(subject)s: joined the queued %(what)s #%(run)s") % {
        "subject": subject, "what": what, "run": request.run.pk}
