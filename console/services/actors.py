from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from console.models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who is asking and through which interface; carried into runs and audit events.

    `grant` is what a caller without a user proved: a CiGrant (CI token, GitLab id_token), a WebhookGrant, or
    console.authorization.SYSTEM for the console's own follow-up work. console.authorization.authorize reads
    it; nothing else decides what an actor may do."""

    user: Any | None
    interface: str
    label: str
    detail: dict = field(default_factory=dict)
    grant: Any | None = field(default=None, compare=False)

    @classmethod
    def for_user(cls, user, interface: str) -> Actor:
        return cls(user=user, interface=interface, label=user.get_username())

    @classmethod
    def system(cls, label: str = "dso-console", *, user=None, detail: dict | None = None) -> Actor:
        """The console itself; `user` is whom the work is recorded for (e.g. who asked for the bump)."""
        from console.authorization import SYSTEM

        return cls(user=user, interface=AuditEvent.Interface.SYSTEM, label=label, detail=detail or {}, grant=SYSTEM)

    @classmethod
    def for_grant(cls, grant, interface: str, detail: dict | None = None) -> Actor:
        """A pipeline or a webhook: no user, only what its credential proved."""
        return cls(user=None, interface=interface, label=grant.label[:200],
                   detail={**(detail or {}), **{k: v for k, v in grant.detail.items() if v not in (None, "")}},
                   grant=grant)

    @property
    def is_staff(self) -> bool:
        return bool(self.user is not None and self.user.is_staff)
