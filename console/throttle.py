"""Failed credential checks, counted per client address, and the refusal once an address has too many.

Every way of proving who one is with a guessable secret goes through here: the portal and admin sign-in
forms and the API token endpoint (all three call `django.contrib.auth.authenticate`, so the backend below
and the `user_login_failed` signal cover them, and any form added later), and `Authorization: Token` with an
unknown token. The address is the one the outermost *trusted* proxy saw (`DSO_TRUSTED_PROXIES`); with no
trusted proxy, X-Forwarded-For is ignored, so a client cannot reset its count by inventing a header.
Counts live in the default cache (shared across processes when `DSO_CACHE_URL` is set), in fixed windows.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver

KEY_PREFIX = "dso:credential-failures"


def client_address(request) -> str:
    """REMOTE_ADDR, or the address the outermost of DSO_TRUSTED_PROXIES proxies appended (DRF's rule too)."""
    meta = request.META
    remote = meta.get("REMOTE_ADDR", "") or ""
    proxies = settings.TRUSTED_PROXIES
    forwarded = meta.get("HTTP_X_FORWARDED_FOR") or ""
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if proxies <= 0 or not hops:
        return remote
    # Each trusted proxy appends the address it received from; entries left of those are the client's own.
    return hops[-min(proxies, len(hops))]


def _window() -> tuple[int, float]:
    seconds = settings.LOGIN_FAILURE_WINDOW_SECONDS
    now = time.time()
    return int(now // seconds), seconds - now % seconds


def _key(address: str) -> str:
    return f"{KEY_PREFIX}:{_window()[0]}:{address}"


def credential_failures(request) -> int:
    return int(cache.get(_key(client_address(request)), 0))


def credential_checks_blocked(request) -> bool:
    return credential_failures(request) >= settings.LOGIN_FAILURE_LIMIT


def retry_after_seconds() -> int:
    return max(1, int(_window()[1]) + 1)


def record_credential_failure(request) -> None:
    key = _key(client_address(request))
    timeout = settings.LOGIN_FAILURE_WINDOW_SECONDS + 5
    if cache.add(key, 1, timeout=timeout):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)


def refusal_message() -> str:
    return (f"too many failed sign-in attempts from your address: try again in {retry_after_seconds()} seconds")


class ThrottledModelBackend(ModelBackend):
    """Django's username/password check, refused outright while the caller's address is throttled, so even
    the right password proves nothing to someone guessing (and no form can forget the check)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is not None and credential_checks_blocked(request):
            raise PermissionDenied(refusal_message())
        return super().authenticate(request, username=username, password=password, **kwargs)


@receiver(user_login_failed, dispatch_uid="dso-credential-failure")
def _count_failed_login(sender, credentials, request=None, **kwargs) -> None:
    if request is not None:
        record_credential_failure(request)
