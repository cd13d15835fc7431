"""Push webhooks from GitLab and GitHub: authenticate with the repository's webhook secret, then sync.

The payload names the repository (its clone or web URL); among the registered repositories with that
external URL, the one whose secret matches (GitLab: the X-Gitlab-Token itself; GitHub: an HMAC-SHA256 of
the raw body) is synced through the same `sync_request` as every other trigger. Anything that does not
authenticate ends with 401 and leaves no trace; other events are acknowledged and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from console import jsonsafe
from console.authorization import authorize
from console.models import AuditEvent, Project, Repository, SyncRun, Trigger, WebhookDelivery
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import Conflict, DomainError, PermissionDenied

SECRET_PREFIX = "dsowh_"
MAX_CANDIDATES = 50
GITLAB_SYNC_EVENTS = {"Push Hook", "Tag Push Hook"}
GITHUB_SYNC_EVENTS = {"push"}


class WebhookUnauthorized(DomainError):
    status_code = 401
    code = "webhook_unauthorized"


class WebhookTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


@dataclass(frozen=True)
class WebhookOutcome:
    result: str  # "queued", "joined", "ignored", "pong" or "duplicate"
    detail: str
    run: SyncRun | None = None
    repository: Repository | None = None


def repository_webhook_secret_rotate(*, actor: Actor, repository: Repository) -> str:
    """A new webhook secret, shown once; the previous one stops working at once."""
    authorize(actor, "repository.ci_manage", repository, doing=_("setting the webhook secret"))
    if repository.project.status == Project.Status.ARCHIVED:
        raise Conflict(_("the project is archived: its repositories take no new webhook secrets"))
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    before = {"webhook_secret_is_set": bool(repository.webhook_secret)}
    with transaction.atomic():
        repository.webhook_secret = secret
        repository.save(update_fields=["webhook_secret"])
        audit_record(actor=actor, action="repository.webhook_secret_rotate", target=repository, before=before,
                     after={"webhook_secret_is_set": True})
    return secret


def check_body_size(length: int) -> None:
    if length > settings.WEBHOOK_MAX_BODY_BYTES:
        raise WebhookTooLarge(f"webhook payloads are limited to {settings.WEBHOOK_MAX_BODY_BYTES} bytes")


def _url_key(url: Any) -> str | None:
    if not isinstance(url, str) or "://" not in url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/").removesuffix(".git").strip("/").lower()
    return f"{host}/{path}" if host and path else None


def _candidates(urls: list[Any], path_with_namespace: Any = None) -> list[Repository]:
    """Registered repositories (with a webhook secret) whose external URL is one the payload names."""
    keys = {key for key in map(_url_key, urls) if key}
    path = path_with_namespace.strip("/").lower() if isinstance(path_with_namespace, str) else ""
    fragments = {key.split("/", 1)[1] for key in keys} | ({path} if path else set())
    if not fragments:
        return []
    found: list[Repository] = []
    for fragment in sorted(fragments):
        rows = (Repository.objects.select_related("project__organization").exclude(webhook_secret="")
                .filter(external_url__icontains=fragment)[:MAX_CANDIDATES])
        for repository in rows:
            key = _url_key(repository.external_url)
            named = key and (key in keys or (not keys and key.split("/", 1)[1] == path))
            if named and all(r.pk != repository.pk for r in found):
                found.append(repository)
    return found


def _payload(body: bytes) -> dict:
    try:
        payload = jsonsafe.loads(body)  # bounded nesting: a hostile body is a refusal, not a RecursionError
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookUnauthorized("the payload is not JSON; cannot tell which repository it is for") from exc
    if not isinstance(payload, dict):
        raise WebhookUnauthorized("the payload is not a JSON object; cannot tell which repository it is for")
    return payload


def _bounded(value: Any, limit: int = 300) -> str:
    return "" if value is None else str(value)[:limit]


def webhook_receive_gitlab(*, headers: Mapping[str, str], body: bytes) -> WebhookOutcome:
    check_body_size(len(body))
    token = headers.get("X-Gitlab-Token") or ""
    if not token:
        raise WebhookUnauthorized(
            "missing X-Gitlab-Token: set the repository's webhook secret as the hook's secret token"
        )
    payload = _payload(body)
    project = payload.get("project") if isinstance(payload.get("project"), dict) else {}
    legacy = payload.get("repository") if isinstance(payload.get("repository"), dict) else {}
    urls = [project.get("git_http_url"), project.get("web_url"), project.get("http_url"),
            legacy.get("git_http_url"), legacy.get("homepage")]
    matches = [r for r in _candidates(urls, project.get("path_with_namespace"))
               if hmac.compare_digest(r.webhook_secret.encode(), _header_bytes(token))]
    repository = _single(matches)
    event = headers.get("X-Gitlab-Event") or ""
    if event not in GITLAB_SYNC_EVENTS:
        return WebhookOutcome("ignored", f"GitLab event {event[:60]!r} does not trigger a sync",
                              repository=repository)
    detail = {
        "provider": "gitlab", "event": event, "ref": _bounded(payload.get("ref")),
        "commit_sha": _bounded(payload.get("checkout_sha") or payload.get("after"), 64),
        "pushed_by": _bounded(payload.get("user_username"), 200),
        "delivery": _bounded(headers.get("X-Gitlab-Event-UUID") or headers.get("X-Gitlab-Webhook-UUID"), 80),
    }
    return _sync(repository, "gitlab webhook", detail, provider="gitlab", keys=_delivery_keys(detail["delivery"]))


def webhook_receive_github(*, headers: Mapping[str, str], body: bytes) -> WebhookOutcome:
    check_body_size(len(body))
    signature = headers.get("X-Hub-Signature-256") or ""
    if not signature.startswith("sha256="):
        raise WebhookUnauthorized(
            "missing X-Hub-Signature-256: set the repository's webhook secret as the hook's secret"
        )
    payload = _payload(body)
    remote = payload.get("repository") if isinstance(payload.get("repository"), dict) else {}
    urls = [remote.get("clone_url"), remote.get("html_url"), remote.get("url")]
    matches = [
        r for r in _candidates(urls, remote.get("full_name"))
        if hmac.compare_digest(
            b"sha256=" + hmac.new(r.webhook_secret.encode(), body, hashlib.sha256).hexdigest().encode(),
            _header_bytes(signature),
        )
    ]
    repository = _single(matches)
    event = headers.get("X-GitHub-Event") or ""
    if event == "ping":
        return WebhookOutcome("pong", "the webhook is set up correctly", repository=repository)
    if event not in GITHUB_SYNC_EVENTS:
        return WebhookOutcome("ignored", f"GitHub event {event[:60]!r} does not trigger a sync",
                              repository=repository)
    pusher = payload.get("pusher") if isinstance(payload.get("pusher"), dict) else {}
    detail = {
        "provider": "github", "event": event, "ref": _bounded(payload.get("ref")),
        "commit_sha": _bounded(payload.get("after"), 64), "pushed_by": _bounded(pusher.get("name"), 200),
        "delivery": _bounded(headers.get("X-GitHub-Delivery"), 80),
    }
    # GitHub signs the body, not the delivery id header: the body's digest catches a replay under a new id.
    keys = _delivery_keys(detail["delivery"]) + [f"body:{hashlib.sha256(body).hexdigest()}"]
    return _sync(repository, "github webhook", detail, provider="github", keys=keys)


def _header_bytes(value: str) -> bytes:
    """A header as bytes for compare_digest, which refuses str with non-ASCII characters (a 500, not a 401)."""
    return value.encode("utf-8", "surrogateescape")


def _single(matches: list[Repository]) -> Repository:
    if not matches:
        raise WebhookUnauthorized(
            "the signature does not match the webhook secret of any repository registered with this URL"
        )
    return matches[0]  # secrets are random per repository: two matches would mean one secret reused


def _delivery_keys(delivery: str) -> list[str]:
    return [f"id:{delivery}"] if delivery else []


@dataclass(frozen=True)
class WebhookGrant:
    """A delivery signed with one repository's webhook secret: it may ask for a sync of that repository."""

    label: str
    repository_id: int
    detail: dict = field(default_factory=dict)

    def authorize(self, *, scope: str, repository: Repository | None, repository_id: int | None = None) -> None:
        if str(scope) != "sync":
            raise PermissionDenied(_("a webhook may request a sync, not %(scope)s") % {
                "scope": repr(scope),
            }, code="webhook_scope")
        if repository is None or repository.pk != self.repository_id:
            raise PermissionDenied(_("this webhook delivery was signed for another repository"))


def _sync(repository: Repository, label: str, detail: dict, *, provider: str, keys: list[str]) -> WebhookOutcome:
    from console.services.syncs import sync_request

    actor = Actor.for_grant(WebhookGrant(label=label, repository_id=repository.pk, detail=detail),
                            AuditEvent.Interface.WEBHOOK)
    retention = timedelta(seconds=settings.WEBHOOK_DELIVERY_RETENTION_SECONDS)
    WebhookDelivery.objects.filter(received_at__lt=timezone.now() - retention).delete()
    try:
        # The deliveries and the sync request commit together: a delivery whose sync failed may be redelivered.
        with transaction.atomic():
            for key in keys:
                WebhookDelivery.objects.create(provider=provider, key=key[:100], repository=repository)
            outcome = sync_request(actor=actor, repository=repository, trigger=Trigger.WEBHOOK)
    except IntegrityError:
        return WebhookOutcome("duplicate", "this delivery was already received; a replay triggers nothing",
                              repository=repository)
    return WebhookOutcome("joined" if not outcome.created else "queued", f"sync #{outcome.run.pk} requested",
                          run=outcome.run, repository=repository)
