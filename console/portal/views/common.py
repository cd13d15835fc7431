"""What every portal view shares: the actor, domain errors mapped to forms, 403 pages, role flags."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from console.authorization import ACTIONS, authorize
from console.models import Project, Role
from console.models.organizations import ROLE_RANK
from console.permissions import project_role
from console.services.actors import Actor
from console.services.errors import DomainError, PermissionDenied, ProjectLocked


def portal_actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, "portal")


def wants_json(request: HttpRequest) -> bool:
    """The portal's JS asks for JSON; a plain form post gets a redirect."""
    return "application/json" in request.headers.get("Accept", "")


def safe_next(request: HttpRequest, default: str) -> str:
    """Where a form posted from another page returns to: its ``next`` field when it stays on this site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


def apply_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's error next to the field it names; anything else above the form."""
    if isinstance(error.message, dict):
        for field, messages in error.message.items():
            messages = messages if isinstance(messages, (list, tuple)) else [messages]
            if field in form.fields:
                form.add_error(field, list(messages))
            elif field in ("__all__", None):
                form.add_error(None, list(messages))
            else:
                form.add_error(None, [f"{field}: {m}" for m in messages])
    else:
        form.add_error(None, error.message)


def refusal(request: HttpRequest, action: str, obj) -> HttpResponse | None:
    """The 403 page if the signed-in user may not do `action` on `obj` (console.authorization), else None;
    asked before the form is read, so that someone without the right learns nothing from its errors."""
    try:
        authorize(portal_actor(request), action, obj)
    except (PermissionDenied, ProjectLocked) as error:
        return forbidden(request, error)
    return None


def forbidden(request: HttpRequest, error: DomainError) -> HttpResponse:
    """The refusal page: 403, or 409 for a locked project (its message says who locked it and why)."""
    locked = isinstance(error, ProjectLocked)
    status = 409 if locked else 403
    if wants_json(request):
        return JsonResponse({"detail": str(error.message), "code": error.code}, status=status)
    return render(request, "portal/forbidden.html", {"message": error.message, "locked": locked}, status=status)


class ProjectAbilities:
    """The user's role on one project, read once, answering what the page may offer. The role each flag
    needs comes from console.authorization.ACTIONS, the table the services authorize with."""

    def __init__(self, user, project: Project):
        self.is_staff = bool(user.is_staff)
        self.role = project_role(user, project)
        self.archived = project.status == Project.Status.ARCHIVED
        self.locked = project.locked_at is not None

    def _at_least(self, needed: str) -> bool:
        return self.is_staff or (self.role is not None and ROLE_RANK[self.role] >= ROLE_RANK[needed])

    @property
    def role_label(self) -> str:
        """The role as people read it, in the page's language."""
        return Role(self.role).label if self.role else ""

    @property
    def view(self) -> bool:
        return self._at_least(ACTIONS["project.view"].role)

    @property
    def sync(self) -> bool:
        return not self.archived and not self.locked and self._at_least(ACTIONS["repository.sync"].role)

    @property
    def manage(self) -> bool:
        return not self.archived and not self.locked and self._at_least(ACTIONS["repository.manage"].role)

    @property
    def administer(self) -> bool:
        return not self.locked and self._at_least(ACTIONS["project.archive"].role)
