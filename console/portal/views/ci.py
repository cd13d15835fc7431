"""CI triggers on the repository page: CI tokens, allowed GitLab projects, the webhook secret, snippets.

A new secret (CI token or webhook secret) is shown once, by Post/Redirect/Get: the POST keeps it in the
server-side session and redirects; the next GET of the repository page pops it and shows it (with no-store),
so a reload neither re-posts the form nor shows the secret again. Never a flash message: messages may live
in a cookie, and the secret must not leave the server except onto the user's screen.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from console.models.ci import CiScope
from console.portal.views.common import (
    ProjectAbilities,
    apply_domain_error,
    forbidden,
    portal_actor,
    refusal,
)
from console.selectors import repositories_visible_to
from console.services.ci_tokens import (
    ci_snippet_context,
    ci_token_create,
    ci_token_revoke,
    ci_tokens_for,
    repository_ci_settings_update,
)
from console.services.errors import DomainError, PermissionDenied
from console.services.webhooks import repository_webhook_secret_rotate

SYNC_RUNS_PER_PAGE = 20


class CiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, label=_("Name"), help_text=_("what will use it, e.g. gitlab-ci"))
    scopes = forms.MultipleChoiceField(
        choices=CiScope.choices, initial=[CiScope.SYNC], widget=forms.CheckboxSelectMultiple, label=_("Scopes"),
        error_messages={"required": _("choose at least one scope")},
        help_text=_("give a pipeline only what it needs: bump commits image tags to this repository"),
    )
    expires_at = forms.DateTimeField(required=False, label=_("Expires at"),
                                     help_text=_("optional, e.g. 2027-01-31 00:00"))


class CiSettingsForm(forms.Form):
    ci_allowed_project_paths = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label=_("Allowed GitLab projects"),
        help_text=_("GitLab projects whose id_tokens may act on this repository, one per line: "
                    "<instance name>:<group/project>, or a bare group/project while a single instance is trusted"),
    )
    ci_protected_refs_only = forms.BooleanField(required=False, label=_("Protected refs only"),
                                                help_text=_("only pipelines of protected refs"))

    def service_fields(self) -> dict:
        paths = [line.strip() for line in self.cleaned_data["ci_allowed_project_paths"].splitlines()]
        return {"ci_allowed_project_paths": [p for p in paths if p],
                "ci_protected_refs_only": self.cleaned_data["ci_protected_refs_only"]}


def ci_context(request, repository, **extra) -> dict:
    """What the repository page adds to show the CI section (the lead merges this into repository_detail)."""
    can = ProjectAbilities(request.user, repository.project)
    context = {**ci_snippet_context(repository), "ci_can_manage": can.manage, **extra}
    if can.manage:
        context["ci_tokens"] = list(ci_tokens_for(actor=portal_actor(request), repository=repository))
        context.setdefault("ci_token_form", CiTokenForm(prefix="ci"))
        context.setdefault("ci_settings_form", CiSettingsForm(prefix="cis", initial={
            "ci_allowed_project_paths": "\n".join(repository.ci_allowed_project_paths),
            "ci_protected_refs_only": repository.ci_protected_refs_only,
        }))
    return context


NEW_SECRET_KEY = "portal-new-secret-{pk}"


def _show_once(request, repository, **secret) -> object:
    request.session[NEW_SECRET_KEY.format(pk=repository.pk)] = secret
    return redirect(reverse("portal:repository", args=[repository.pk]) + "#ci-triggers")


def pop_new_secret(request, repository) -> dict:
    """The secret a POST just made, for this one display: ci_new_secret + ci_new_token, or
    ci_new_webhook_secret; empty on any later load."""
    secret = request.session.pop(NEW_SECRET_KEY.format(pk=repository.pk), None)
    if not secret:
        return {}
    if "token_id" in secret:
        token = repository.ci_tokens.filter(pk=secret["token_id"]).first()
        return {"ci_new_secret": secret["secret"], "ci_new_token": token} if token else {}
    return {"ci_new_webhook_secret": secret["webhook_secret"]}


def _render_repository(request, repository, status: int = 200, **extra):
    from console.portal.views.repositories import render_repository

    response = render_repository(request, repository, status=status, **extra)
    # The response may hold a secret shown once: no cache may keep it.
    response["Cache-Control"] = "no-store"
    return response


def _repository(request, pk: int):
    return get_object_or_404(repositories_visible_to(request.user), pk=pk)


@login_required
@require_POST
def ci_token_new(request, pk: int):
    repository = _repository(request, pk)
    if denied := refusal(request, "repository.ci_manage", repository):
        return denied
    form = CiTokenForm(request.POST, prefix="ci")
    if form.is_valid():
        try:
            token, secret = ci_token_create(actor=portal_actor(request), repository=repository,
                                            **form.cleaned_data)
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            return _show_once(request, repository, secret=secret, token_id=token.pk)
    return _render_repository(request, repository, status=400, ci_token_form=form)


@login_required
@require_POST
def ci_token_revoke_view(request, pk: int, token_id: int):
    repository = _repository(request, pk)
    token = get_object_or_404(repository.ci_tokens.select_related("repository__project"), pk=token_id)
    try:
        ci_token_revoke(actor=portal_actor(request), token=token)
    except PermissionDenied as error:
        return forbidden(request, error)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, gettext("CI token %(name)s revoked; pipelines using it are now refused.") % {
            "name": token.name})
    return redirect("portal:repository", pk=repository.pk)


@login_required
@require_POST
def ci_settings_update(request, pk: int):
    repository = _repository(request, pk)
    form = CiSettingsForm(request.POST, prefix="cis")
    if form.is_valid():
        try:
            repository_ci_settings_update(actor=portal_actor(request), repository=repository,
                                          **form.service_fields())
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, gettext("CI settings saved."))
            return redirect("portal:repository", pk=repository.pk)
    repository.refresh_from_db()
    return _render_repository(request, repository, status=400, ci_settings_form=form)


@login_required
@require_POST
def webhook_secret_rotate(request, pk: int):
    repository = _repository(request, pk)
    try:
        secret = repository_webhook_secret_rotate(actor=portal_actor(request), repository=repository)
    except PermissionDenied as error:
        return forbidden(request, error)
    return _show_once(request, repository, webhook_secret=secret)
