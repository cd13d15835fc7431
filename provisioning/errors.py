"""The one error hierarchy adapters raise.

Foreign exceptions (GitCommandError, GitlabError, ApiException, OSError ...) are translated at the edge
into these, each with a stable ``code`` callers can branch on and a ``message`` a person can act on.
Messages never carry credentials.
"""

from __future__ import annotations


class ProvisioningError(Exception):
    """Base class. ``transient`` tells a task whether retrying later may succeed."""

    code = "provisioning_error"
    transient = False

    def __init__(self, message: str, *, code: str | None = None, transient: bool | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if transient is not None:
            self.transient = transient

    def __str__(self) -> str:
        return self.message


class AuthenticationFailed(ProvisioningError):
    code = "authentication_failed"


class PermissionDenied(ProvisioningError):
    code = "permission_denied"


class NotFound(ProvisioningError):
    code = "not_found"


class Conflict(ProvisioningError):
    code = "conflict"


class InvalidInput(ProvisioningError):
    code = "invalid_input"


class Unreachable(ProvisioningError):
    """Network trouble, timeouts, 5xx: worth retrying."""

    code = "unreachable"
    transient = True
