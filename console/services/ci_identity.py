"""GitLab CI id_tokens: RS256 JWTs signed by a trusted GitLab instance, verified against its JWKS.

Only an instance an admin registered (TrustedGitLabInstance, enabled) can vouch for a pipeline; its keys are
fetched from its JWKS URL, kept a few minutes, and fetched again when a token names a key we do not know
(GitLab rotates keys). Fetches are single-flight per URL and a failed fetch is remembered for a few seconds,
so a flood of requests while GitLab is down costs it at most one request per interval. Authentication says
*who* the pipeline is; `ci_identity_authorize` says whether that pipeline may act on one repository.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from django.conf import settings
from django.utils.translation import gettext as _

from console.models import Repository, TrustedGitLabInstance
from console.services.errors import DomainError, PermissionDenied

ALGORITHM = "RS256"  # what GitLab signs with; never none, never an HMAC
REQUIRED_CLAIMS = ["iss", "aud", "exp", "nbf", "iat", "sub", "project_path"]
# An unknown kid triggers a refetch, but not more often than this: a flood of made-up kids must not
# turn into a flood of requests to the GitLab instance.
MIN_REFETCH_SECONDS = 10.0
# A failed fetch is answered from memory (503) for this long instead of being retried by every request.
FAILURE_MEMORY_SECONDS = 10.0


class CiAuthenticationFailed(DomainError):
    status_code = 401
    code = "ci_authentication_failed"


class CiKeysUnavailable(DomainError):
    status_code = 503
    code = "ci_keys_unavailable"


@dataclass(frozen=True)
class CiIdentity:
    """A pipeline job, as vouched for by a trusted GitLab instance."""

    instance: str
    issuer: str
    subject: str
    project_path: str
    project_id: str
    ref: str
    ref_type: str
    ref_protected: bool
    pipeline_id: str
    pipeline_source: str
    job_id: str
    job_url: str
    sha: str
    user_login: str

    def as_detail(self) -> dict[str, Any]:
        return {
            "auth": "gitlab_id_token", "gitlab_instance": self.instance, "issuer": self.issuer,
            "jwt_subject": self.subject, "project_path": self.project_path, "project_id": self.project_id,
            "ref": self.ref, "ref_type": self.ref_type, "ref_protected": self.ref_protected,
            "pipeline_id": self.pipeline_id, "pipeline_source": self.pipeline_source, "job_id": self.job_id,
            "job_url": self.job_url, "commit_sha": self.sha, "user_login": self.user_login,
        }


@dataclass
class _KeySet:
    fetched_at: float
    keys: dict[str, Any]


@dataclass
class _Failure:
    failed_at: float
    message: str


_key_sets: dict[str, _KeySet] = {}
_failures: dict[str, _Failure] = {}
_fetch_locks: dict[str, threading.Lock] = {}
_key_sets_lock = threading.Lock()  # guards the three dicts, never held during a fetch


def jwks_cache_clear() -> None:
    with _key_sets_lock:
        _key_sets.clear()
        _failures.clear()


def _fetch_keys(instance: TrustedGitLabInstance) -> dict[str, Any]:
    url = instance.effective_jwks_url
    try:
        response = requests.get(url, timeout=settings.CI_JWKS_TIMEOUT_SECONDS, allow_redirects=False)
        response.raise_for_status()
        key_set = jwt.PyJWKSet.from_dict(response.json())
    except (requests.RequestException, ValueError, jwt.PyJWTError) as exc:
        raise CiKeysUnavailable(
            f"cannot read the signing keys of GitLab instance {instance.name!r} from {url}: "
            f"{type(exc).__name__}; ask the platform team to check the instance's JWKS URL"
        ) from exc
    return {key.key_id: key.key for key in key_set.keys if key.key_id and key.key_type == "RSA"}


def _unknown_key(kid: str) -> CiAuthenticationFailed:
    return CiAuthenticationFailed(_("the id_token was signed with a key (%(kid)s) the GitLab instance does not publish") % {
        "kid": kid,
    })


def _cached_key(url: str, kid: str):
    """The key from what is known about the URL, None if a fetch is due; raises when a fetch is not allowed."""
    now = time.monotonic()
    with _key_sets_lock:
        cached = _key_sets.get(url)
        failure = _failures.get(url)
    if cached is not None:
        age = now - cached.fetched_at
        if age < settings.CI_JWKS_CACHE_SECONDS and kid in cached.keys:
            return cached.keys[kid]
        if age < MIN_REFETCH_SECONDS:
            raise _unknown_key(kid)
    if failure is not None and now - failure.failed_at < FAILURE_MEMORY_SECONDS:
        raise CiKeysUnavailable(failure.message)
    return None


def _signing_key(instance: TrustedGitLabInstance, kid: str):
    url = instance.effective_jwks_url
    key = _cached_key(url, kid)
    if key is not None:
        return key
    with _key_sets_lock:
        fetch_lock = _fetch_locks.setdefault(url, threading.Lock())
    with fetch_lock:
        # Whoever held the lock before us may have just fetched (or failed): use that instead of fetching.
        key = _cached_key(url, kid)
        if key is not None:
            return key
        try:
            keys = _fetch_keys(instance)
        except CiKeysUnavailable as error:
            with _key_sets_lock:
                _failures[url] = _Failure(failed_at=time.monotonic(), message=str(error.message))
            raise
        with _key_sets_lock:
            _key_sets[url] = _KeySet(fetched_at=time.monotonic(), keys=keys)
            _failures.pop(url, None)
    if kid not in keys:
        raise _unknown_key(kid)
    return keys[kid]


def looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and value.startswith("eyJ")


def ci_identity_verify(token: str) -> CiIdentity:
    """Verify a GitLab CI id_token: signature, issuer, audience and validity window. Raises on any doubt."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise CiAuthenticationFailed(_("the bearer token is not a well-formed JWT")) from exc
    if header.get("alg") != ALGORITHM:
        raise CiAuthenticationFailed(_("id_tokens must be signed with %(ALGORITHM)s, not %(value)s") % {
            "ALGORITHM": ALGORITHM,
            "value": repr(header.get('alg')),
        })
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise CiAuthenticationFailed(_("the id_token does not name its signing key (kid)"))
    issuer = unverified.get("iss")
    # Exactly the registered URL (stored without a trailing slash): "https://gitlab.example.com/" is another
    # issuer as far as OIDC is concerned, and GitLab never writes one.
    instance = (
        TrustedGitLabInstance.objects.filter(issuer=issuer, enabled=True).first()
        if isinstance(issuer, str) and issuer else None
    )
    if instance is None:
        raise CiAuthenticationFailed(
            _("id_tokens from %(issuer)s are not trusted: no enabled GitLab instance has this "
                  "issuer") % {
                "issuer": repr(issuer),
            }
        )
    try:
        claims = jwt.decode(
            token, _signing_key(instance, kid), algorithms=[ALGORITHM], audience=instance.audience,
            issuer=issuer, leeway=settings.CI_JWT_LEEWAY_SECONDS, options={"require": REQUIRED_CLAIMS},
        )
    except jwt.InvalidAudienceError as exc:
        raise CiAuthenticationFailed(_("the id_token's audience must be %(audience)s") % {
            "audience": repr(instance.audience),
        }) from exc
    except jwt.ExpiredSignatureError as exc:
        raise CiAuthenticationFailed(_("the id_token has expired")) from exc
    except jwt.ImmatureSignatureError as exc:
        raise CiAuthenticationFailed(_("the id_token is not valid yet (nbf/iat in the future)")) from exc
    except jwt.PyJWTError as exc:
        raise CiAuthenticationFailed(_("the id_token was refused: %(exc)s") % {"exc": exc}) from exc
    lifetime = claims["exp"] - claims["iat"]
    if lifetime > settings.CI_JWT_MAX_LIFETIME_SECONDS:
        # GitLab's id_tokens live as long as the job (minutes); a long-lived one is a leak waiting to happen.
        raise CiAuthenticationFailed(
            _("the id_token is valid for %(value)s seconds; at most "
                  "%(CI_JWT_MAX_LIFETIME_SECONDS)s are accepted (exp - iat)") % {
                "value": int(lifetime),
                "CI_JWT_MAX_LIFETIME_SECONDS": settings.CI_JWT_MAX_LIFETIME_SECONDS,
            }
        )
    return _identity(instance, claims)


def _text(claims: dict, name: str, limit: int = 300) -> str:
    value = claims.get(name)
    return "" if value is None else str(value)[:limit]


def _identity(instance: TrustedGitLabInstance, claims: dict) -> CiIdentity:
    project_path = _text(claims, "project_path")
    job_id = _text(claims, "job_id", 40)
    return CiIdentity(
        instance=instance.name,
        issuer=instance.issuer,
        subject=_text(claims, "sub"),
        project_path=project_path,
        project_id=_text(claims, "project_id", 40),
        ref=_text(claims, "ref"),
        ref_type=_text(claims, "ref_type", 20),
        # GitLab writes the string "true"; anything else is not a protected ref.
        ref_protected=claims.get("ref_protected") == "true",
        pipeline_id=_text(claims, "pipeline_id", 40),
        pipeline_source=_text(claims, "pipeline_source", 40),
        job_id=job_id,
        job_url=f"{instance.issuer}/{project_path}/-/jobs/{job_id}" if job_id and project_path else "",
        sha=_text(claims, "sha", 64),
        user_login=_text(claims, "user_login", 200),
    )


def ci_identity_refusal(identity: CiIdentity, repository_id: int, doing: str = "sync") -> PermissionDenied:
    """The one answer for a repository that does not exist and one that does not allow the project: it names
    the id the caller sent, never the repository, so ids cannot be probed."""
    return PermissionDenied(
        _("GitLab project %(quoted_path)s (instance %(quoted_instance)s) may not %(doing)s "
              "repository #%(repository_id)s: a maintainer must add '%(instance)s:%(project_path)s' to "
              "the repository's allowed CI project paths") % {
            "quoted_path": repr(identity.project_path),
            "quoted_instance": repr(identity.instance),
            "doing": doing,
            "repository_id": repository_id,
            "instance": identity.instance,
            "project_path": identity.project_path,
        },
        code="ci_project_not_allowed",
    )


def ci_identity_authorize(identity: CiIdentity, repository: Repository, doing: str = "sync") -> None:
    """May this pipeline act on this repository? The repository lists the GitLab projects it trusts, each as
    '<instance name>:<group/project>' (only that instance's tokens) or a bare 'group/project', which stands
    for the one trusted instance and stops matching anything once a second one is enabled."""
    wanted = identity.project_path.casefold()
    listed_bare = False
    for entry in repository.ci_allowed_project_paths or []:
        instance, colon, path = entry.rpartition(":")
        if path.strip().strip("/").casefold() != wanted:
            continue
        if colon and instance.strip() == identity.instance:
            break
        listed_bare = listed_bare or not colon
    else:
        if not listed_bare:
            raise ci_identity_refusal(identity, repository.pk, doing)
        enabled = TrustedGitLabInstance.objects.filter(enabled=True).count()
        if enabled != 1:
            # Fail closed: with two instances, 'acme/app' could be anyone's project of that name.
            raise PermissionDenied(
                _("repository #%(repository_id)s allows GitLab project %(quoted_path)s without "
                      "naming its instance, and %(enabled)s GitLab instances are trusted: a maintainer "
                      "must write the entry as '%(instance)s:%(project_path)s'") % {
                    "repository_id": repository.pk,
                    "quoted_path": repr(identity.project_path),
                    "enabled": enabled,
                    "instance": identity.instance,
                    "project_path": identity.project_path,
                },
                code="ci_project_instance_ambiguous",
            )
    if repository.ci_protected_refs_only and not identity.ref_protected:
        raise PermissionDenied(
            _("only pipelines of protected branches or tags may %(doing)s repository "
                  "#%(repository_id)s (%(value)s %(ref)s is not protected)") % {
                "doing": doing,
                "repository_id": repository.pk,
                "value": identity.ref_type or 'ref',
                "ref": repr(identity.ref),
            },
            code="ci_ref_not_protected",
        )
