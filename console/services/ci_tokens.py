"""Per-repository CI tokens, and the one path by which a CI pipeline asks for a sync.

A token's secret (`dsoci_...`) is shown once, at creation; only its SHA-256 is stored, so the row is looked
up by hash and a database leak yields no usable secret. A CI caller authenticates with either a token or a
GitLab id_token (see ci_identity); either way it gets a CiGrant, and `ci_grant_repository` checks that the
grant has the scope of the operation (sync, report_build, bump) and covers the repository before the caller
runs the same service every other interface calls.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from console.authorization import authorize
from console.models import AuditEvent, CiToken, Repository, Trigger, TrustedGitLabInstance
from console.models.ci import CiScope
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.ci_identity import CiIdentity, ci_identity_authorize, ci_identity_refusal
from console.services.errors import Conflict, DomainError, PermissionDenied
from console.services.runs import RunRequest
from console.services.validation import full_clean_or_raise

SECRET_PREFIX = "dsoci_"
SHOWN_PREFIX_LENGTH = 12
LAST_USED_PRECISION = timedelta(minutes=1)  # fewer writes on a hot token; precise enough for humans
# A GitLab id_token proves a pipeline of an allowed project; bumping (a commit to the repository) also needs
# the pipeline to run on a protected ref, whatever the repository's ci_protected_refs_only says.
ID_TOKEN_SCOPES = frozenset({CiScope.SYNC, CiScope.REPORT_BUILD, CiScope.BUMP})
DOING = {CiScope.SYNC: gettext_lazy("sync"), CiScope.REPORT_BUILD: gettext_lazy("report builds for"),
         CiScope.BUMP: gettext_lazy("bump image tags in")}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _public_state(token: CiToken) -> dict:
    return {
        "name": token.name, "prefix": token.prefix, "repository": token.repository_id, "scopes": token.scopes,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def _require_manage(actor: Actor, repository: Repository, doing: str, *, reading: bool = False) -> None:
    authorize(actor, "repository.ci_manage", repository, doing=doing, reading=reading)


def _refuse_if_archived(repository: Repository) -> None:
    from console.models import Project

    if repository.project.status == Project.Status.ARCHIVED:
        raise Conflict(_("the project is archived: its repositories take no new CI credentials or settings"))


def ci_tokens_for(*, actor: Actor, repository: Repository):
    _require_manage(actor, repository, _("seeing CI tokens"), reading=True)
    return repository.ci_tokens.select_related("created_by").order_by("-created_at", "-id")


def ci_token_create(
    *, actor: Actor, repository: Repository, name: str, expires_at: datetime | None = None,
    scopes: list[str] | None = None,
) -> tuple[CiToken, str]:
    """Create a token (scopes default to sync only); the returned secret is never stored and cannot be shown
    again."""
    _require_manage(actor, repository, _("creating a CI token"))
    _refuse_if_archived(repository)
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError({"expires_at": [_("must be in the future")]})
    if scopes is None:
        scopes = [CiScope.SYNC.value]
    elif isinstance(scopes, list | tuple) and all(isinstance(scope, str) for scope in scopes):
        # One order, no repeats; anything unknown is left for the model's validator to name.
        order = {scope: index for index, scope in enumerate(CiScope.values)}
        scopes = sorted(set(scopes), key=lambda scope: (order.get(scope, len(order)), scope))
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = CiToken(
        repository=repository, name=(name or "").strip(), prefix=secret[:SHOWN_PREFIX_LENGTH],
        secret_hash=_hash(secret), expires_at=expires_at, scopes=scopes,
        created_by=actor.user if actor.user is not None and actor.user.pk else None,
    )
    full_clean_or_raise(token, exclude=["secret_hash"])
    try:
        with transaction.atomic():
            token.save()
            audit_record(actor=actor, action="ci_token.create", target=token, after=_public_state(token))
    except IntegrityError as exc:
        raise DomainError({"name": [_("an active CI token named %(name)s already exists") % {
            "name": repr(token.name),
        }]},
                          code="duplicate") from exc
    return token, secret


def ci_token_revoke(*, actor: Actor, token: CiToken) -> CiToken:
    _require_manage(actor, token.repository, _("revoking a CI token"))
    if token.revoked_at is not None:
        raise Conflict(_("this CI token is already revoked"))
    before = _public_state(token)
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="ci_token.revoke", target=token, before=before,
                     after=_public_state(token))
    return token


def ci_token_authenticate(secret: str) -> CiToken | None:
    """The active token with this secret, or None (unknown, revoked or expired)."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        return None
    digest = _hash(secret)
    token = CiToken.objects.select_related("repository").filter(secret_hash=digest).first()
    # The lookup is by hash, so timing reveals nothing about the secret; compare anyway, in constant time.
    if token is None or not hmac.compare_digest(token.secret_hash, digest) or not token.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_PRECISION:
        CiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def ci_token_refusal(secret: str) -> str:
    """Why a secret was refused, for the 401 answer (only someone holding the secret learns it)."""
    token = None
    if secret.startswith(SECRET_PREFIX):
        token = CiToken.objects.filter(secret_hash=_hash(secret)).first()
    if token is None:
        return "unknown CI token"
    if token.revoked_at is not None:
        return "this CI token was revoked"
    return "this CI token has expired"


@dataclass(frozen=True)
class CiGrant:
    """What a CI caller proved: a CI token of one repository, or a pipeline identity from GitLab."""

    label: str
    token: CiToken | None = None
    identity: CiIdentity | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_token(cls, token: CiToken) -> CiGrant:
        return cls(label=f"ci-token:{token.name}", token=token, detail={
            "auth": "ci_token", "ci_token": token.name, "ci_token_id": token.pk,
            "ci_token_prefix": token.prefix,
        })

    @classmethod
    def for_identity(cls, identity: CiIdentity) -> CiGrant:
        return cls(label=identity.subject or identity.project_path, identity=identity,
                   detail=identity.as_detail())

    def allows(self, scope: str) -> bool:
        """Whether the credential may do this kind of operation at all (the repository is checked apart)."""
        if self.token is not None:
            return self.token.has_scope(scope)
        if self.identity is not None:
            return scope in ID_TOKEN_SCOPES and (scope != CiScope.BUMP or self.identity.ref_protected)
        return False

    def authorize(self, *, scope: str, repository: Repository | None, repository_id: int | None = None) -> None:
        """Refuse unless the credential has `scope` and covers the repository (None: it does not exist, which
        is refused like one not covered). console.authorization.authorize asks this for every CI actor."""
        scope = str(scope)  # a CiScope member or its value
        if not self.allows(scope):
            raise _scope_refusal(self, scope)
        doing = DOING.get(scope, scope)
        repository_id = repository.pk if repository is not None else repository_id
        if self.token is not None:
            if repository is None or self.token.repository_id != repository.pk:
                raise PermissionDenied(_("this CI token may not %(doing)s repository #%(repository_id)s") % {
                    "doing": doing,
                    "repository_id": repository_id,
                },
                                       code="ci_token_wrong_repository")
            return
        if self.identity is None:
            raise PermissionDenied(_("this CI credential may not %(doing)s repository #%(repository_id)s") % {
                "doing": doing,
                "repository_id": repository_id,
            })
        if repository is None:
            raise ci_identity_refusal(self.identity, repository_id, doing)
        ci_identity_authorize(self.identity, repository, doing)


def _scope_refusal(grant: CiGrant, scope: str) -> PermissionDenied:
    if grant.token is not None:
        return PermissionDenied(
            _("this CI token lacks the %(scope)s scope (it has: %(value)s); a maintainer can "
                  "create a token with the %(scope)s scope") % {
                "scope": repr(scope),
                "value": ', '.join(grant.token.scopes or []) or 'none',
            }, code="ci_scope_missing",
        )
    if grant.identity is not None and scope == CiScope.BUMP:
        identity = grant.identity
        return PermissionDenied(
            _("a GitLab id_token has the 'bump' scope only in pipelines of protected branches or "
                  "tags (%(value)s %(ref)s is not protected)") % {
                "value": identity.ref_type or 'ref',
                "ref": repr(identity.ref),
            }, code="ci_scope_missing",
        )
    return PermissionDenied(_("this CI credential lacks the %(scope)s scope") % {
        "scope": repr(scope),
    }, code="ci_scope_missing")


def ci_grant_repository(*, grant: CiGrant, repository_id: int, scope: str) -> Repository:
    """The repository, if the grant has `scope` and covers it. The scope is checked first (it does not depend
    on the repository), and a missing repository is refused exactly like one the grant does not cover."""
    repository = Repository.objects.select_related("project__organization").filter(pk=repository_id).first()
    grant.authorize(scope=scope, repository=repository, repository_id=repository_id)
    return repository


def ci_sync_request(*, grant: CiGrant, repository_id: int, reported: dict | None = None) -> RunRequest:
    """A sync asked by a pipeline. `reported` holds what the caller says about itself (pipeline id, job URL,
    commit); a verified id_token's own claims take precedence over it."""
    from console.services.syncs import sync_request

    repository = ci_grant_repository(grant=grant, repository_id=repository_id, scope=CiScope.SYNC)
    detail = {key: value for key, value in (reported or {}).items() if value not in (None, "")}
    actor = Actor.for_grant(grant, AuditEvent.Interface.CI, detail)
    return sync_request(actor=actor, repository=repository, trigger=Trigger.CI)


def repository_ci_settings_update(
    *, actor: Actor, repository: Repository, ci_allowed_project_paths: list[str] | None = None,
    ci_protected_refs_only: bool | None = None,
) -> Repository:
    """Which GitLab projects' pipelines may sync the repository with an id_token, and from which refs."""
    _require_manage(actor, repository, _("changing CI settings"))
    _refuse_if_archived(repository)
    before = {"ci_allowed_project_paths": repository.ci_allowed_project_paths,
              "ci_protected_refs_only": repository.ci_protected_refs_only}
    if ci_allowed_project_paths is not None:
        repository.ci_allowed_project_paths = _allowed_project_entries(ci_allowed_project_paths)
    if ci_protected_refs_only is not None:
        repository.ci_protected_refs_only = ci_protected_refs_only
    full_clean_or_raise(repository)
    with transaction.atomic():
        repository.save(update_fields=["ci_allowed_project_paths", "ci_protected_refs_only"])
        audit_record(actor=actor, action="repository.ci_settings", target=repository, before=before, after={
            "ci_allowed_project_paths": repository.ci_allowed_project_paths,
            "ci_protected_refs_only": repository.ci_protected_refs_only,
        })
    return repository


def _allowed_project_entries(entries: list[str]) -> list[str]:
    """Normalised entries ('<instance>:<group/project>' or 'group/project'); an instance must be a trusted one
    (written with its exact name), and a bare path is accepted only while a single instance is enabled."""
    instances = {instance.name.casefold(): instance.name for instance in TrustedGitLabInstance.objects.all()}
    enabled = TrustedGitLabInstance.objects.filter(enabled=True).count()
    normalised, errors = set(), []
    for entry in entries:
        if not isinstance(entry, str) or not entry.strip():
            continue
        instance, colon, path = entry.strip().rpartition(":")
        path = path.strip().strip("/")
        if colon:
            name = instances.get(instance.strip().casefold())
            if name is None:
                known = ", ".join(sorted(instances.values())) or "none yet"
                errors.append(f"{entry.strip()!r}: no trusted GitLab instance is named {instance.strip()!r} "
                              f"(trusted instances: {known})")
                continue
            normalised.add(f"{name}:{path}")
        elif enabled > 1:
            errors.append(f"{path!r}: {enabled} GitLab instances are trusted, so name the project's instance: "
                          f"'<instance name>:{path}'")
        else:
            normalised.add(path)
    if errors:
        raise DomainError({"ci_allowed_project_paths": errors}, code="invalid_project_paths")
    return sorted(normalised)


def ci_snippet_context(repository: Repository) -> dict[str, Any]:
    """What templates/portal/partials/ci_snippets.html needs to render ready-to-paste pipeline jobs."""
    from console.models import TrustedGitLabInstance

    public_url = settings.PUBLIC_URL.rstrip("/")
    instance = TrustedGitLabInstance.objects.filter(enabled=True).order_by("name").first()
    return {
        "ci_repository": repository,
        "ci_sync_url": f"{public_url}/api/v1/repositories/{repository.pk}/sync/",
        "ci_audience": instance.audience if instance else public_url,
        "ci_gitlab_trusted": instance is not None,
        "ci_allowed_project_paths": repository.ci_allowed_project_paths,
        "ci_protected_refs_only": repository.ci_protected_refs_only,
        "ci_webhook_gitlab_url": f"{public_url}/api/v1/hooks/gitlab/",
        "ci_webhook_github_url": f"{public_url}/api/v1/hooks/github/",
        "ci_webhook_secret_is_set": bool(repository.webhook_secret),
    }
