"""Rollbacks that stick: a bump back to an earlier tag plus a pin, which refuses every other bump of that image
in that infra repository (CI, registry watch, people) until someone unpins it. Pins and unpins are audited."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from console.authorization import authorize
from console.models import ImagePin, Repository, Trigger
from console.models.images import ImageBump
from console.models.validators import validate_image_tag
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import Conflict, DomainError


class ImagePinned(Conflict):
    code = "image_pinned"

    def __init__(self, pin: ImagePin):
        super().__init__(pin.refusal, code="image_pinned")
        self.pin = pin


def active_pin(*, repository: Repository | int, image: str) -> ImagePin | None:
    repository_id = repository if isinstance(repository, int) else repository.pk
    return ImagePin.objects.filter(repository_id=repository_id, image=image.strip(), unpinned_at__isnull=True).first()


def pin_check(*, repository: Repository | int, image: str, tag: str) -> None:
    """Raise ImagePinned (409) when ``image`` is pinned in ``repository`` at a tag other than ``tag``."""
    pin = active_pin(repository=repository, image=image)
    if pin is not None and pin.tag != tag.strip():
        raise ImagePinned(pin)


def active_pins_of_project(project) -> dict[tuple[int, str], ImagePin]:
    """Every active pin of the project's repositories by (repository id, image): one query."""
    return {(pin.repository_id, pin.image): pin
            for pin in ImagePin.objects.filter(repository__project=project, unpinned_at__isnull=True)}


def _pin_state(pin: ImagePin) -> dict:
    return {"image": pin.image, "tag": pin.tag, "reason": pin.reason, "pin": pin.pk,
            "bump": pin.bump_id}


def image_pin(*, actor: Actor, repository: Repository, image: str, tag: str, reason: str,
              bump: ImageBump | None = None) -> ImagePin:
    """Pin ``image`` at ``tag``; an active pin of the same image is replaced (and kept, unpinned)."""
    authorize(actor, "repository.pin", repository)
    image, tag, reason = image.strip(), tag.strip(), reason.strip()
    errors = {}
    if not repository.is_infra:
        raise DomainError({"repository": [_("images are pinned in infra repositories only")]}, code="not_infra")
    if not image:
        errors["image"] = [_("which image to pin, e.g. registry.example.com/team/app")]
    try:
        validate_image_tag(tag)
    except Exception as exc:  # noqa: BLE001 - ValidationError, shown as the field's error
        errors["tag"] = list(getattr(exc, "messages", [str(exc)]))
    if not reason:
        errors["reason"] = [_("say why (it is shown to whoever is refused a bump while the pin holds)")]
    if errors:
        raise DomainError(errors)
    now = timezone.now()
    with transaction.atomic():
        Repository.objects.select_for_update().filter(pk=repository.pk).exists()
        previous = ImagePin.objects.filter(repository=repository, image=image, unpinned_at__isnull=True).first()
        if previous is not None:
            ImagePin.objects.filter(pk=previous.pk).update(
                unpinned_at=now, unpinned_by_label=actor.label[:200],
                unpin_reason=(_("re-pinned at %(tag)s") % {"tag": tag})[:500])
        try:
            pin = ImagePin.objects.create(
                repository=repository, image=image, tag=tag, reason=reason[:500], bump=bump,
                pinned_by=actor.user if actor.user is not None and actor.user.pk else None,
                pinned_by_label=actor.label[:200])
        except IntegrityError as error:  # pragma: no cover - the row lock above serializes pins
            raise Conflict(_("the image was pinned by someone else meanwhile; try again")) from error
        audit_record(actor=actor, action="image.pin", target=repository,
                     before=_pin_state(previous) if previous else None, after=_pin_state(pin))
        from console.services.notifications import notify

        notify(project=repository.project_id, event="image_pinned",
               payload={"repository": repository.name, "image": image, "tag": tag, "by": pin.pinned_by_label,
                        "reason": pin.reason})
    return pin


def image_unpin(*, actor: Actor, repository: Repository, image: str, reason: str = "") -> ImagePin:
    """One action: the image is free again for CI and automatic bumps."""
    authorize(actor, "repository.pin", repository, doing="unpinning an image")
    with transaction.atomic():
        pin = (ImagePin.objects.select_for_update()
               .filter(repository=repository, image=image.strip(), unpinned_at__isnull=True).first())
        if pin is None:
            raise DomainError(_("%(image)s is not pinned in %(repository)s")
                              % {"image": image, "repository": repository.name}, code="not_pinned")
        pin.unpinned_at = timezone.now()
        pin.unpinned_by_label = actor.label[:200]
        pin.unpin_reason = reason.strip()[:500]
        pin.save(update_fields=["unpinned_at", "unpinned_by_label", "unpin_reason"])
        audit_record(actor=actor, action="image.unpin", target=repository, before=_pin_state(pin),
                     after={"reason": pin.unpin_reason})
    return pin


def image_rollback(*, actor: Actor, repository: Repository, image: str, tag: str, reason: str,
                   file: str = "", location: str = "", trigger: str = Trigger.API) -> tuple[ImagePin, ImageBump]:
    """Roll ``image`` back to ``tag``: pin it there, then bump to it through the ordinary bump service (so
    the push to the external source, its sync and its history are those of any bump). One transaction: a
    refused bump (no write token, archived project) leaves no pin behind."""
    from console.services.image_bumps import image_tag_bump_request

    authorize(actor, "repository.pin", repository, doing="rolling back an image")
    with transaction.atomic():
        pin = image_pin(actor=actor, repository=repository, image=image, tag=tag, reason=reason)
        bump = image_tag_bump_request(actor=actor, repository=repository, image=image, tag=tag, file=file,
                                      location=location, reason=_("rollback: %(reason)s") % {"reason": reason},
                                      trigger=trigger)
        ImagePin.objects.filter(pk=pin.pk).update(bump=bump)
        pin.bump = bump
    return pin, bump

