from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from console.services.errors import DomainError


def full_clean_or_raise(instance: models.Model, *, exclude: list[str] | None = None) -> None:
    """Run model validation (fields, clean(), constraints) and turn failures into a DomainError."""
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise DomainError(_flatten(exc), code="invalid") from exc


def _flatten(exc: ValidationError) -> dict | str:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    return "; ".join(exc.messages)
