"""A client of the OCI distribution API v2 (Harbor, GitLab's registry, Docker Hub, distribution itself).

Plain ``requests``: tags are listed page by page following the ``Link: <...>; rel="next"`` header; a 401 with
``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` is answered by fetching a token from the realm
(with the username and token as Basic credentials when set) and repeating the request; ``Basic`` challenges
get the credentials directly. Manifests are read with the OCI and Docker media types in ``Accept``; the
digest comes from ``Docker-Content-Digest`` (HEAD), or from the manifest bytes when a registry omits it.
Errors are translated to provisioning.errors with a code and a message a person can act on.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import requests

from provisioning.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied, ProvisioningError, Unreachable

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST))
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)

_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))')
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_REPOSITORY_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="https://auth/token",service="registry",scope="repository:a/b:pull"`` → scheme, params."""
    scheme, _, rest = header.strip().partition(" ")
    params = {match.group(1).lower(): match.group(2) if match.group(2) is not None else match.group(3)
              for match in _CHALLENGE_PARAM.finditer(rest)}
    return scheme.lower(), params


def validate_repository_name(name: str) -> str:
    """The distribution spec's grammar for repository names (lower case path components)."""
    if not _REPOSITORY_NAME.match(name or "") or len(name) > 255:
        raise InvalidInput(f"{name!r} is not an image repository name (lower case path such as 'team/app')",
                           code="invalid_image_repository")
    return name


@dataclass(frozen=True)
class ManifestInfo:
    digest: str
    media_type: str
    config_digest: str | None  # None for an index (the image of one platform has it)


class RegistryClient:
    """One registry; ``username``/``password`` (a token) are optional. ``check_url`` is called with every URL
    before it is requested (the registry's own and a token realm it names), so the caller's network policy
    decides which hosts may be reached."""

    def __init__(self, base_url: str, *, username: str = "", password: str = "", timeout: float = 10.0,
                 page_size: int = 1000, check_url: Callable[[str], None] | None = None,
                 session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self.page_size = page_size
        self.check_url = check_url
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "dso-console-registry-watch"
        self._tokens: dict[str, str] = {}  # scope → bearer token
        self._lock = threading.Lock()  # the watch reads manifests from several threads
        self.requests_made = 0

    # --- public operations -------------------------------------------------------------------------------

    def ping(self) -> None:
        """GET /v2/: the registry answers the distribution API (and the credentials are accepted)."""
        self._request("GET", "/v2/", scope="")

    def list_tags(self, repository: str) -> list[str]:
        return [tag for page in self.iter_tag_pages(repository) for tag in page]

    def iter_tag_pages(self, repository: str) -> Iterator[list[str]]:
        validate_repository_name(repository)
        url = f"/v2/{repository}/tags/list?n={self.page_size}"
        seen: set[str] = set()
        while url:
            if url in seen:  # a registry answering the same next link forever
                raise ProvisioningError(f"the registry's tag list of {repository} loops", code="registry_protocol")
            seen.add(url)
            response = self._request("GET", url, scope=f"repository:{repository}:pull")
            try:
                tags = response.json().get("tags") or []
            except (ValueError, AttributeError) as error:
                raise ProvisioningError(f"the registry's tag list of {repository} is not JSON",
                                        code="registry_protocol") from error
            yield [tag for tag in tags if isinstance(tag, str)]
            match = _NEXT_LINK.search(response.headers.get("Link", ""))
            url = match.group(1) if match else ""

    def manifest(self, repository: str, reference: str) -> tuple[ManifestInfo, dict]:
        validate_repository_name(repository)
        response = self._request("GET", f"/v2/{repository}/manifests/{reference}",
                                 scope=f"repository:{repository}:pull", headers={"Accept": MANIFEST_ACCEPT})
        body = response.content
        try:
            document = json.loads(body)
        except ValueError as error:
            raise ProvisioningError(f"the manifest of {repository}:{reference} is not JSON",
                                    code="registry_protocol") from error
        media_type = (response.headers.get("Content-Type", "").split(";")[0].strip()
                      or document.get("mediaType", ""))
        digest = response.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()
        config = (document.get("config") or {}).get("digest") if media_type not in INDEX_TYPES else None
        return ManifestInfo(digest=digest, media_type=media_type, config_digest=config), document

    def manifest_digest(self, repository: str, reference: str) -> str:
        """HEAD first (no body, not counted against Docker Hub's pull limit); GET when no digest header."""
        validate_repository_name(repository)
        response = self._request("HEAD", f"/v2/{repository}/manifests/{reference}",
                                 scope=f"repository:{repository}:pull", headers={"Accept": MANIFEST_ACCEPT})
        digest = response.headers.get("Docker-Content-Digest")
        return digest or self.manifest(repository, reference)[0].digest

    def created_at(self, repository: str, reference: str) -> datetime | None:
        """When the image was built: the ``created`` of its config blob (an index: its first linux image's)."""
        info, document = self.manifest(repository, reference)
        if info.media_type in INDEX_TYPES:
            entries = document.get("manifests") or []
            linux = [m for m in entries if (m.get("platform") or {}).get("os") in (None, "linux")]
            if not (linux or entries):
                return None
            info, document = self.manifest(repository, (linux or entries)[0]["digest"])
        if not info.config_digest:
            return None
        response = self._request("GET", f"/v2/{repository}/blobs/{info.config_digest}",
                                 scope=f"repository:{repository}:pull")
        try:
            created = response.json().get("created")
        except (ValueError, AttributeError):
            return None
        return _parse_time(created) if isinstance(created, str) else None

    # --- transport ---------------------------------------------------------------------------------------

    def _request(self, method: str, url: str, *, scope: str, headers: dict | None = None) -> requests.Response:
        absolute = url if url.startswith(("http://", "https://")) else urljoin(self.base_url + "/", url.lstrip("/"))
        if urlsplit(absolute).netloc != urlsplit(self.base_url).netloc:
            # A next link or redirect to another host would carry our token there.
            raise ProvisioningError("the registry pointed the console at another host", code="registry_protocol")
        headers = dict(headers or {})
        if scope in self._tokens:
            headers["Authorization"] = f"Bearer {self._tokens[scope]}"
        response = self._send(method, absolute, headers)
        if response.status_code == 401:
            scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            if scheme == "bearer" and params.get("realm"):
                self._tokens[scope] = self._fetch_token(params, scope)
                headers["Authorization"] = f"Bearer {self._tokens[scope]}"
                response = self._send(method, absolute, headers)
            elif scheme == "basic" and self.password:
                response = self._send(method, absolute, headers, auth=(self.username or "token", self.password))
        self._raise_for(response, url)
        return response

    def _send(self, method: str, url: str, headers: dict, auth=None) -> requests.Response:
        if self.check_url:
            self.check_url(url)
        with self._lock:
            self.requests_made += 1
        try:
            return self.session.request(method, url, headers=headers, auth=auth, timeout=self.timeout,
                                        allow_redirects=False)
        except requests.Timeout as error:
            raise Unreachable(f"the registry did not answer within {self.timeout:g} s") from error
        except requests.RequestException as error:
            raise Unreachable(f"the registry could not be reached ({type(error).__name__})") from error

    def _fetch_token(self, challenge: dict[str, str], scope: str) -> str:
        realm = challenge["realm"]
        if not realm.startswith(("http://", "https://")):
            raise ProvisioningError("the registry's token realm is not an http(s) URL", code="registry_protocol")
        params = {key: challenge[key] for key in ("service",) if challenge.get(key)}
        # The challenge's own scope is what this request needs; ours covers a /v2/ ping answered with none.
        wanted = challenge.get("scope") or scope
        if wanted:
            params["scope"] = wanted
        if self.check_url:
            self.check_url(realm)
        auth = (self.username or "token", self.password) if self.password else None
        self.requests_made += 1
        try:
            response = self.session.get(realm, params=params, auth=auth, timeout=self.timeout,
                                        allow_redirects=False)
        except requests.RequestException as error:
            raise Unreachable(f"the registry's token service could not be reached ({type(error).__name__})") from error
        if response.status_code in (401, 403):
            raise AuthenticationFailed("the registry's token service refused the username and token: check them "
                                       "and that the token may read the registry", code="registry_auth_failed")
        if response.status_code >= 500:
            raise Unreachable(f"the registry's token service failed (HTTP {response.status_code})")
        try:
            document = response.json()
            token = document.get("token") or document.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not token or response.status_code != 200:
            raise ProvisioningError(f"the registry's token service gave no token (HTTP {response.status_code})",
                                    code="registry_protocol")
        return token

    def _raise_for(self, response: requests.Response, url: str) -> None:
        status = response.status_code
        if status < 300:
            return
        path = url.split("?", 1)[0]
        if status == 401:
            raise AuthenticationFailed("the registry refused the credentials (HTTP 401): set a username and a token "
                                       "that may read the image", code="registry_auth_failed")
        if status == 403:
            raise PermissionDenied(f"the registry's credentials may not read {path} (HTTP 403)",
                                   code="registry_forbidden")
        if status == 404:
            raise NotFound(f"the registry has nothing at {path} (HTTP 404): check the image repository name",
                           code="registry_not_found")
        if status == 429 or status >= 500:
            raise Unreachable(f"the registry answered HTTP {status} for {path}; retried later")
        raise ProvisioningError(f"the registry answered HTTP {status} for {path}", code="registry_protocol")


def _parse_time(value: str) -> datetime | None:
    text = value.strip()
    # Go writes nanoseconds and "Z"; fromisoformat takes at most microseconds.
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text)
    if not match:
        return None
    fraction = (match.group(2) or "")[:7]
    zone = match.group(3) or "Z"
    try:
        return datetime.fromisoformat(match.group(1) + fraction + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
