"""The Project admin's "Lock selected projects" and "Unlock selected projects": each project goes through
console.services.project_locks like an API call would; locking first asks the reason on an intermediate page."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from console.models import AuditEvent
from console.services.actors import Actor
from console.services.errors import DomainError
from console.services.project_locks import project_lock, project_unlock


def _actor(request) -> Actor:
    return Actor.for_user(request.user, AuditEvent.Interface.ADMIN)


def _refusal(error: DomainError) -> str:
    if isinstance(error.message, dict):
        return "; ".join(str(problem) for problems in error.message.values() for problem in
                         (problems if isinstance(problems, list) else [problems]))
    return str(error.message)


@admin.action(description="Lock selected projects")
def lock_projects(modeladmin, request, queryset):
    projects = list(queryset.select_related("organization"))
    reason = request.POST.get("reason", "").strip()
    if "apply" not in request.POST or not reason:
        # First the reason, on its own page; the selection travels with it.
        return TemplateResponse(request, "admin/console/project/lock_reason.html", {
            **modeladmin.admin_site.each_context(request),
            "title": "Lock selected projects", "projects": projects, "opts": modeladmin.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME, "missing_reason": "apply" in request.POST,
        })
    for project in projects:
        try:
            locked = project_lock(actor=_actor(request), project=project, reason=reason)
        except DomainError as error:
            modeladmin.message_user(request, f"Project {project}: not locked: {_refusal(error)}", level=messages.ERROR)
            continue
        # The admin capitalizes every message: start with a word, not with the project's path.
        modeladmin.message_user(request, f"Project {project}: locked" if locked else
                                f"Project {project}: already locked (the first lock is kept)",
                                level=messages.SUCCESS if locked else messages.WARNING)
    return None


@admin.action(description="Unlock selected projects")
def unlock_projects(modeladmin, request, queryset):
    for project in queryset.select_related("organization"):
        try:
            unlocked = project_unlock(actor=_actor(request), project=project)
        except DomainError as error:
            modeladmin.message_user(request, f"Project {project}: not unlocked: {_refusal(error)}",
                                    level=messages.ERROR)
            continue
        modeladmin.message_user(request, f"Project {project}: unlocked" if unlocked else
                                f"Project {project}: was not locked", level=messages.SUCCESS if unlocked
                                else messages.WARNING)
