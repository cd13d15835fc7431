from __future__ import annotations

from typing import Any

from django.db import models

from console.models import AuditEvent
from console.services.actors import Actor


def audit_record(
    *, actor: Actor, action: str, target: models.Model, before: Any = None, after: Any = None
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor.user if actor.user is not None and actor.user.pk else None,
        actor_label=actor.label[:200],
        interface=actor.interface,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:300],
        before=before,
        after=after,
    )
