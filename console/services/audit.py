"""Audit events. Secrets never enter them: any model field marked `secret` (encrypted fields, secret
digests) is left out of snapshots and blanked in whatever before/after a caller passes for its model."""

from __future__ import annotations

from typing import Any

from django.db import models

from console.models import AuditEvent
from console.services.actors import Actor

REDACTED = "[redacted]"


def secret_field_names(model: type[models.Model]) -> set[str]:
    """Fields whose class says they hold a secret (EncryptedTextField, SecretHashField, or `secret = True`)."""
    return {field.name for field in model._meta.get_fields() if getattr(field, "secret", False)}


def audit_snapshot(obj: models.Model) -> dict:
    """The object's concrete fields as JSON-safe values; each secret as `<name>_is_set` only."""
    secrets = secret_field_names(type(obj))
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in secrets:
            data[f"{field.name}_is_set"] = bool(getattr(obj, field.attname))
            continue
        value = getattr(obj, field.attname)
        data[field.name] = value if isinstance(value, (str, int, float, bool, list, dict, type(None))) else str(value)
    return data


def _redact(model: type[models.Model], state: Any) -> Any:
    if not isinstance(state, dict):
        return state
    secrets = secret_field_names(model)
    return {key: (REDACTED if key in secrets and value else value) for key, value in state.items()}


def audit_record(
    *, actor: Actor, action: str, target: models.Model, before: Any = None, after: Any = None
) -> AuditEvent:
    model = type(target)
    return AuditEvent.objects.create(
        actor=actor.user if actor.user is not None and actor.user.pk else None,
        actor_label=actor.label[:200],
        interface=actor.interface,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:300],
        before=_redact(model, before),
        after=_redact(model, after),
    )
