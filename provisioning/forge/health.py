"""Does the forge answer? One cheap request, for the console's readiness probe.

GitLab: ``GET /api/v4/user`` with the console's token (the call every sync's first request depends on: it
also proves the token is still accepted). The local forge: any HTTP answer from its smart-HTTP server.
"""

from __future__ import annotations

import requests

from provisioning.errors import AuthenticationFailed, ProvisioningError, Unreachable


def gitlab_answers(url: str, token: str, *, timeout: float, ssl_verify: bool = True) -> None:
    """Raise a ProvisioningError naming what is wrong; return when GitLab accepted the token."""
    try:
        response = requests.get(f"{url.rstrip('/')}/api/v4/user", headers={"PRIVATE-TOKEN": token},
                                timeout=timeout, verify=ssl_verify, allow_redirects=False)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise Unreachable(f"GitLab at {url} is unreachable ({type(exc).__name__})") from None
    if response.status_code in (401, 403):
        raise AuthenticationFailed("GitLab rejected the token: check DSO_GITLAB_TOKEN")
    if response.status_code != 200:
        raise ProvisioningError(f"GitLab at {url} answered HTTP {response.status_code}", code="forge_error")


def local_forge_answers(url: str, *, timeout: float) -> None:
    """The local forge's server answers at all (a 401 or 404 is an answer; a 5xx is not)."""
    try:
        response = requests.get(url.rstrip("/") + "/", timeout=timeout, allow_redirects=False)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise Unreachable(f"the local forge at {url} is unreachable ({type(exc).__name__})") from None
    if response.status_code >= 500:
        raise ProvisioningError(f"the local forge at {url} answered HTTP {response.status_code}",
                                code="forge_error")
