"""Project notifications: targets (a webhook signed with HMAC-SHA256, or e-mail through Django's mail
settings), events recorded as one delivery per target, and a task that delivers each with retries.

A webhook receives ``POST`` JSON ``{"event", "project", "delivery", "payload"}`` with headers
``X-DSO-Event``, ``X-DSO-Delivery`` and ``X-DSO-Signature: sha256=<hex HMAC of the body with the secret>``
(the secret is shown once, when the target is created).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets as secrets_module

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from console.authorization import authorize
from console.models import NotificationDelivery, NotificationEvent, NotificationTarget, Project
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import DomainError

log = logging.getLogger(__name__)

DELIVER_TASK = "dso.notifications.deliver"
MAX_ATTEMPTS = 5


def notification_target_create(*, actor: Actor, project: Project, kind: str, url: str = "",
                               emails: list[str] | None = None, events: list[str] | None = None
                               ) -> tuple[NotificationTarget, str]:
    """A new target; for a webhook the HMAC secret is returned here once and never shown again."""
    authorize(actor, "project.edit", project, doing="managing notification targets")
    events = list(events) if events else list(NotificationEvent.values)
    unknown = sorted(set(events) - set(NotificationEvent.values))
    if unknown:
        raise DomainError({"events": [_("unknown events: %(events)s") % {"events": ", ".join(unknown)}]})
    target = NotificationTarget(project=project, kind=kind, events=events)
    secret = ""
    if kind == NotificationTarget.Kind.WEBHOOK:
        from console.services.registries import _check_url

        _check_url((url or "").strip())
        target.url = url.strip()
        secret = secrets_module.token_urlsafe(32)
        target.secret = secret
    elif kind == NotificationTarget.Kind.EMAIL:
        from django.core.validators import validate_email

        addresses = [address.strip() for address in emails or [] if address.strip()]
        if not addresses:
            raise DomainError({"emails": [_("at least one address")]})
        for address in addresses:
            try:
                validate_email(address)
            except Exception:  # noqa: BLE001 - ValidationError
                raise DomainError({"emails": [_("%(address)s is not an e-mail address") % {"address": address}]})
        target.emails = addresses
    else:
        raise DomainError({"kind": [_("webhook or email")]})
    with transaction.atomic():
        target.save()
        audit_record(actor=actor, action="notification.target_create", target=project,
                     after={"target": target.pk, "kind": kind, "url": target.url, "emails": target.emails,
                            "events": events})
    return target, secret


def notify(*, project: Project | int, event: str, payload: dict) -> list[NotificationDelivery]:
    """Record one delivery per enabled target that wants ``event``; each is sent by the task after commit."""
    project_id = project if isinstance(project, int) else project.pk
    targets = [t for t in NotificationTarget.objects.filter(project_id=project_id, enabled=True) if event in t.events]
    deliveries = [NotificationDelivery.objects.create(target=target, event=event,
                                                      payload=json.loads(json.dumps(payload, cls=DjangoJSONEncoder)))
                  for target in targets]
    for delivery in deliveries:
        transaction.on_commit(lambda delivery_id=delivery.pk: _enqueue(delivery_id), robust=True)
    return deliveries


def notify_safely(**kwargs) -> None:
    """For the run paths: a notification problem never changes the outcome of the run that raised it."""
    try:
        notify(**kwargs)
    except Exception:  # noqa: BLE001
        log.exception("recording notification %s failed", kwargs.get("event"))


def _enqueue(delivery_id: int, countdown: float = 0) -> None:
    from console.celery import app

    app.signature(DELIVER_TASK, args=[delivery_id]).apply_async(countdown=countdown)


class DeliveryFailed(Exception):
    def __init__(self, reason: str, countdown: float):
        super().__init__(reason)
        self.countdown = countdown


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def notification_deliver(*, delivery_id: int) -> None:
    """Send one delivery. Raises DeliveryFailed (the task retries after its countdown) while attempts remain;
    the last failure is recorded on the delivery."""
    with transaction.atomic():
        delivery = (NotificationDelivery.objects.select_for_update().select_related("target__project")
                    .filter(pk=delivery_id, status=NotificationDelivery.Status.PENDING).first())
        if delivery is None:
            return  # delivered already, or gone
        NotificationDelivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
        delivery.attempts += 1
    target = delivery.target
    try:
        status_code = _send(delivery, target)
    except Exception as error:  # noqa: BLE001 - recorded on the delivery, retried
        reason = str(error)[:2000] or type(error).__name__
        final = delivery.attempts >= MAX_ATTEMPTS
        NotificationDelivery.objects.filter(pk=delivery.pk).update(
            error=reason, response_status=getattr(error, "status_code", None),
            status=NotificationDelivery.Status.FAILED if final else NotificationDelivery.Status.PENDING)
        if not final:
            raise DeliveryFailed(reason, countdown=min(600, 10 * 2 ** (delivery.attempts - 1))) from error
        return
    NotificationDelivery.objects.filter(pk=delivery.pk).update(
        status=NotificationDelivery.Status.DELIVERED, delivered_at=timezone.now(), response_status=status_code,
        error="")


class _HttpRefused(Exception):
    def __init__(self, status_code: int):
        super().__init__(f"the webhook answered HTTP {status_code}")
        self.status_code = status_code


def _send(delivery: NotificationDelivery, target: NotificationTarget) -> int | None:
    document = {"event": delivery.event, "project": target.project.full_slug, "delivery": delivery.pk,
                "payload": delivery.payload}
    if target.kind == NotificationTarget.Kind.EMAIL:
        subject = f"[DSO] {target.project.full_slug}: {NotificationEvent(delivery.event).label}"
        send_mail(subject, json.dumps(document, indent=2), settings.DEFAULT_FROM_EMAIL, target.emails)
        return None
    from console.network import repository_network_policy
    from provisioning.netguard import check_url

    check_url(target.url, repository_network_policy())
    body = json.dumps(document, separators=(",", ":")).encode()
    response = requests.post(target.url, data=body, timeout=settings.NOTIFICATION_TIMEOUT_SECONDS,
                             allow_redirects=False, headers={
                                 "Content-Type": "application/json", "User-Agent": "dso-console-notifications",
                                 "X-DSO-Event": delivery.event, "X-DSO-Delivery": str(delivery.pk),
                                 "X-DSO-Signature": signature(target.secret, body)})
    if not 200 <= response.status_code < 300:
        raise _HttpRefused(response.status_code)
    return response.status_code


def notification_target_update(*, actor: Actor, target: NotificationTarget, events: list[str],
                               enabled: bool) -> NotificationTarget:
    """Which events the target gets (empty: every one) and whether it gets any now."""
    authorize(actor, "project.edit", target.project, doing="managing notification targets")
    events = list(dict.fromkeys(events)) if events else list(NotificationEvent.values)
    unknown = sorted(set(events) - set(NotificationEvent.values))
    if unknown:
        raise DomainError({"events": [_("unknown events: %(events)s") % {"events": ", ".join(unknown)}]})
    before = {"events": target.events, "enabled": target.enabled}
    target.events, target.enabled = events, bool(enabled)
    with transaction.atomic():
        target.save(update_fields=["events", "enabled"])
        audit_record(actor=actor, action="notification.target_update", target=target.project,
                     before={"target": target.pk, **before},
                     after={"target": target.pk, "events": events, "enabled": target.enabled})
    return target


def notification_target_remove(*, actor: Actor, target: NotificationTarget) -> None:
    """Remove the target and its delivery history."""
    authorize(actor, "project.edit", target.project, doing="managing notification targets")
    with transaction.atomic():
        audit_record(actor=actor, action="notification.target_remove", target=target.project,
                     before={"target": target.pk, "kind": target.kind, "url": target.url,
                             "emails": target.emails, "events": target.events})
        target.delete()
