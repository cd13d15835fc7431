"""Field validators shared by every interface (portal, API, admin all go through model validation)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SLUG_MAX_LENGTH = 40


def validate_dns_label(value: str) -> None:
    if not DNS_LABEL.match(value or "") or len(value) > SLUG_MAX_LENGTH:
        raise ValidationError(
            "%(value)r is not a valid name: use lowercase letters, digits and '-', starting and ending with "
            "a letter or digit, at most %(max)s characters (DNS-1123).",
            code="invalid_dns_label",
            params={"value": value, "max": SLUG_MAX_LENGTH},
        )


def validate_external_url(value: str) -> None:
    """A canonical https:// URL without credentials (http:// to loopback only when DSO_ALLOW_HTTP_LOOPBACK is
    on). Which hosts a repository URL may reach is checked by Repository.clean() (console.network)."""
    from console.network import validate_url_syntax

    validate_url_syntax(value)


def validate_repo_relative_path(value: str) -> None:
    if value.startswith("/") or any(part == ".." for part in value.split("/")):
        raise ValidationError("must be a path inside the repository (no leading '/', no '..')", code="invalid_path")
