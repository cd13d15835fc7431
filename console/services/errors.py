"""Domain errors the API maps to 4xx JSON and the portal to form errors."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str | dict, *, code: str | None = None):
        super().__init__(message if isinstance(message, str) else str(message))
        self.message = message
        if code:
            self.code = code


class PermissionDenied(DomainError):
    status_code = 403
    code = "permission_denied"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Unprocessable(DomainError):
    """The request is fine, but what is stored cannot be processed (e.g. rendered) as it is."""

    status_code = 422
    code = "unprocessable"


class ProjectLocked(Conflict):
    """A platform admin locked the project (console.services.project_locks): no write until unlocked."""

    code = "project_locked"
