"""Locking a project: a platform admin freezes it (an incident, an audit, a migration) so that nothing on it or
its repositories changes until it is unlocked. console.authorization refuses every write on a locked project
(Rule.write) whoever asks, so the API, portal, admin, pipelines, webhooks and the console's own follow-up work
are all stopped by the same check; the sweeps skip locked projects rather than ask and be refused."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from console.authorization import authorize
from console.models import Project
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import DomainError

LOCK_REASON_MAX_LENGTH = 2000


def project_lock(*, actor: Actor, project: Project, reason: str) -> bool:
    """Lock the project; return False when it already was.

    Locking a locked project keeps the first lock as it is (who, since when and why): the one who locked it
    first is the one to ask, and a second admin's reason is not silently put in its place."""
    authorize(actor, "project.lock", project)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError({"reason": [_("say why the project is locked: the reason is shown to its members")]},
                          code="reason_required")
    if len(reason) > LOCK_REASON_MAX_LENGTH:
        raise DomainError({"reason": [_("at most %(count)d characters") % {"count": LOCK_REASON_MAX_LENGTH}]},
                          code="invalid")
    with transaction.atomic():
        current = Project.objects.select_for_update().get(pk=project.pk)
        if current.locked_at is not None:
            _copy_lock(current, project)
            return False
        project.locked_at = timezone.now()
        project.locked_by = actor.user if actor.user is not None and actor.user.pk else None
        project.lock_reason = reason
        project.save(update_fields=["locked_at", "locked_by", "lock_reason", "updated_at"])
        audit_record(actor=actor, action="project.lock", target=project, before={"locked": False},
                     after={"locked": True, "reason": reason})
    return True


def project_unlock(*, actor: Actor, project: Project) -> bool:
    """Lift the lock; return False when the project was not locked."""
    authorize(actor, "project.lock", project, doing=_("unlocking a project"))
    with transaction.atomic():
        current = Project.objects.select_for_update().get(pk=project.pk)
        if current.locked_at is None:
            _copy_lock(current, project)
            return False
        before = {"locked": True, "locked_at": current.locked_at.isoformat(),
                  "locked_by": current.locked_by.get_username() if current.locked_by else None,
                  "reason": current.lock_reason}
        project.locked_at, project.locked_by, project.lock_reason = None, None, ""
        project.save(update_fields=["locked_at", "locked_by", "lock_reason", "updated_at"])
        audit_record(actor=actor, action="project.unlock", target=project, before=before, after={"locked": False})
    return True


def _copy_lock(source: Project, target: Project) -> None:
    """The caller's object shows what is stored, not what it read before."""
    target.locked_at, target.locked_by_id, target.lock_reason = source.locked_at, source.locked_by_id, source.lock_reason
