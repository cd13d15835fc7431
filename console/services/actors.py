from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from console.models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who is asking and through which interface; carried into runs and audit events."""

    user: Any | None
    interface: str
    label: str
    detail: dict = field(default_factory=dict)

    @classmethod
    def for_user(cls, user, interface: str) -> "Actor":
        return cls(user=user, interface=interface, label=user.get_username())

    @classmethod
    def system(cls, label: str = "dso-console") -> "Actor":
        return cls(user=None, interface=AuditEvent.Interface.SYSTEM, label=label)

    @property
    def is_staff(self) -> bool:
        return bool(self.user is not None and self.user.is_staff)
