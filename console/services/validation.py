from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from console.services.errors import DomainError


def full_clean_or_raise(instance: models.Model, *, exclude: list[str] | None = None) -> None:
    """Run model validation (fields, clean(), constraints) and turn failures into a DomainError."""
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise DomainError(_flatten(exc), code=_code(exc)) from exc


# Codes specific enough for a client to branch on when every error of a refusal has it.
_SPECIFIC_CODES = {"quota_exceeded"}


def _code(exc: ValidationError) -> str:
    codes = {error.code for error in exc.error_list} if not hasattr(exc, "error_dict") else {
        error.code for errors in exc.error_dict.values() for error in errors
    }
    return codes.pop() if len(codes) == 1 and codes <= _SPECIFIC_CODES else "invalid"


def _flatten(exc: ValidationError) -> dict | str:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    return "; ".join(exc.messages)
