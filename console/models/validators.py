"""Field validators shared by every interface (portal, API, admin all go through model validation)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from django.conf import settings
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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_external_url(value: str) -> None:
    """https only (http to loopback when DSO_ALLOW_HTTP_LOOPBACK is on); never credentials in the URL."""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError as exc:
        raise ValidationError(f"not a valid URL: {exc}", code="invalid_url") from exc
    if parts.username or parts.password or "@" in parts.netloc:
        raise ValidationError(
            "the URL must not contain credentials: give the username and token in their own fields",
            code="credentials_in_url",
        )
    if not host:
        raise ValidationError("the URL has no host", code="invalid_url")
    if parts.query or parts.fragment:
        raise ValidationError("the URL must not have a query or fragment", code="invalid_url")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and _is_loopback(host):
        if settings.ALLOW_HTTP_LOOPBACK:
            return
        raise ValidationError(
            "http:// is allowed only for loopback hosts when DSO_ALLOW_HTTP_LOOPBACK is on; use https://",
            code="insecure_url",
        )
    raise ValidationError(
        f"unsupported URL scheme {parts.scheme!r}: use https://", code="unsupported_scheme"
    )


def validate_repo_relative_path(value: str) -> None:
    if value.startswith("/") or any(part == ".." for part in value.split("/")):
        raise ValidationError("must be a path inside the repository (no leading '/', no '..')", code="invalid_path")
