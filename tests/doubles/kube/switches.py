"""What a test can make the Kubernetes double do besides answering: refuse (403), fail (5xx/429), hang."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class Fault:
    """Answer ``status`` (or hang ``hang_seconds``) to requests matching method and path (a regex)."""

    method: str | None = None
    path: str | None = None
    status: int = 500
    hang_seconds: float = 0.0
    times: int | None = None  # None: every time
    message: str = ""
    served: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.served >= self.times:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path or re.search(self.path, path) is not None


@dataclass(frozen=True)
class Denial:
    verb: str
    resource: str
    group: str = ""
    namespace: str | None = None  # None: everywhere

    def covers(self, verb: str, resource_: str, group: str, namespace: str | None) -> bool:
        return (self.verb in (verb, "*") and self.resource in (resource_, "*") and self.group in (group, "*")
                and (self.namespace is None or self.namespace == namespace))


class StatusError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}
