"""Personal API tokens: create (name, lifetime), list, revoke; for everyone signed in, and the only way to
API access for people who sign in through the identity provider (they have no console password).

The new secret is shown once by Post/Redirect/Get, as for CI tokens (console.portal.views.ci): kept in the
server-side session by the POST, popped by the next GET, served with no-store; never a flash message.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from console.portal.views.common import apply_domain_error, forbidden, portal_actor
from console.services.api_tokens import api_token_issue, api_token_revoke, api_tokens_of
from console.services.errors import DomainError, PermissionDenied

NEW_SECRET_KEY = "new_api_token"
LIFETIMES = (7, 30, 90, 180, 365)


def _lifetime_choices() -> list[tuple[int, str]]:
    days = sorted({d for d in LIFETIMES if d <= settings.API_TOKEN_MAX_LIFETIME_DAYS}
                  | {settings.API_TOKEN_LIFETIME_DAYS, settings.API_TOKEN_MAX_LIFETIME_DAYS})
    return [(d, _("%(days)d days") % {"days": d}) for d in days]


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, label=gettext_lazy("Name"),
                           help_text=gettext_lazy("what will use it, e.g. deploy script"))
    lifetime_days = forms.TypedChoiceField(coerce=int, label=gettext_lazy("Expires after"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lifetime_days"].choices = _lifetime_choices()
        self.fields["lifetime_days"].initial = settings.API_TOKEN_LIFETIME_DAYS


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def api_tokens(request):
    actor = portal_actor(request)
    form = ApiTokenForm()
    if request.method == "POST":
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            try:
                token, secret = api_token_issue(actor=actor, **form.cleaned_data)
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                request.session[NEW_SECRET_KEY] = {"id": token.pk, "secret": secret}
                return redirect("portal:api_tokens")
    new = request.session.pop(NEW_SECRET_KEY, None)
    response = render(request, "portal/api_tokens.html", {
        "form": form,
        "tokens": list(api_tokens_of(actor=actor)),
        "new_token": new,
        "api_base": request.build_absolute_uri("/api/v1/"),
    }, status=400 if form.errors else 200)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_token_revoke_view(request, token_id: int):
    actor = portal_actor(request)
    token = get_object_or_404(api_tokens_of(actor=actor), pk=token_id)
    try:
        api_token_revoke(actor=actor, token=token)
    except PermissionDenied as error:
        return forbidden(request, error)
    except DomainError as error:
        messages.error(request, error.message if isinstance(error.message, str) else str(error))
        return redirect("portal:api_tokens")
    messages.success(request, _("The token “%(name)s” is revoked.") % {"name": token.name or token.prefix})
    return redirect("portal:api_tokens")
