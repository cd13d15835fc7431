"""Signing in and out: the local sign-in form, sign-in through the OpenID Connect provider, and sign-out
that also ends the provider's session when the user came through it.

Thin: console.oidc_client speaks the protocol, console.services.oidc decides who the user is and what roles
their groups give. A provider that cannot be reached or refuses gives a page that says so (503 / 400) and
offers the local sign-in, never a 500.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from console import oidc_client
from console.services.oidc import SignInRefused, oidc_sign_in

log = logging.getLogger(__name__)
NEXT_KEY = "oidc_next"
ID_TOKEN_KEY = "oidc_id_token"
# The session backend of the users this view signs in (they have no password for the model backend).
BACKEND = "console.throttle.ThrottledModelBackend"


class LoginView(auth_views.LoginView):
    """Django's sign-in form, led by the provider's button when OIDC is on."""

    def get_context_data(self, **kwargs):
        from django.conf import settings

        context = super().get_context_data(**kwargs)
        context["oidc_enabled"] = oidc_client.oidc_enabled()
        context["oidc_provider_name"] = settings.OIDC_PROVIDER_NAME
        next_url = self.get_redirect_url()
        query = f"?{urlencode({'next': next_url})}" if next_url else ""
        context["oidc_login_url"] = reverse("oidc_login") + query
        # A failed local sign-in opens the local form again instead of hiding it behind the provider.
        context["local_form_open"] = bool(self.request.method == "POST" or not context["oidc_enabled"])
        return context


def _safe_next(request: HttpRequest, target: str) -> str:
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("portal:home")


def _problem(request: HttpRequest, error: Exception, status: int) -> HttpResponse:
    unavailable = isinstance(error, oidc_client.ProviderUnavailable)
    log.warning("OIDC sign-in failed (%s): %s", getattr(error, "code", type(error).__name__), error)
    return render(request, "registration/oidc_problem.html", status=status, context={
        "title": _("The identity provider cannot be reached") if unavailable else _("Sign-in refused"),
        "reason": getattr(error, "message", str(error)),
        "code": getattr(error, "code", ""),
        "unavailable": unavailable,
    })


@never_cache
@require_GET
def oidc_login(request: HttpRequest) -> HttpResponse:
    if not oidc_client.oidc_enabled():
        raise Http404("OpenID Connect sign-in is not configured")
    request.session[NEXT_KEY] = _safe_next(request, request.GET.get("next", ""))
    try:
        return oidc_client.authorize_redirect(request, request.build_absolute_uri(reverse("oidc_callback")))
    except oidc_client.ProviderUnavailable as error:
        return _problem(request, error, 503)


@never_cache
@require_GET
def oidc_callback(request: HttpRequest) -> HttpResponse:
    if not oidc_client.oidc_enabled():
        raise Http404("OpenID Connect sign-in is not configured")
    try:
        claims, issuer, id_token = oidc_client.complete(request)
        user = oidc_sign_in(issuer=issuer, claims=claims)
    except oidc_client.ProviderUnavailable as error:
        return _problem(request, error, 503)
    except (oidc_client.ProviderRefused, SignInRefused) as error:
        return _problem(request, error, 403 if isinstance(error, SignInRefused) else 400)
    next_url = request.session.pop(NEXT_KEY, "") or reverse("portal:home")
    login(request, user, backend=BACKEND)
    request.session[ID_TOKEN_KEY] = id_token
    return redirect(_safe_next(request, next_url))


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Sign out of the console; someone who came through the provider is sent on to end that session too,
    then back to the sign-in page."""
    id_token = request.session.get(ID_TOKEN_KEY)
    logout(request)
    back = request.build_absolute_uri(reverse("login"))
    if id_token:
        url = oidc_client.logout_url(id_token=id_token, post_logout_redirect_uri=back)
        if url:
            return redirect(url)
        messages.warning(request, _("You are signed out of the console, but the identity provider could not "
                                    "be reached to end your session there."))
    return redirect("login")
