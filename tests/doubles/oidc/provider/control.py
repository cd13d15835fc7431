"""The test-side control API of the double (`/_control/...`, JSON, `X-Control-Token` required): create
users with groups and passwords, change a user's groups, register the console's redirect URIs, switch the
misbehaviour mode, and reset between tests."""

from __future__ import annotations

import hmac
import json
import os

from django.contrib.auth.models import Group, User
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from oidc_provider.models import Client, Code, Token, UserConsent

from tests.doubles.oidc.provider import state


def _control(view):
    @csrf_exempt
    def wrapped(request, *args, **kwargs):
        token = request.headers.get("X-Control-Token", "")
        if request.method != "POST" or not hmac.compare_digest(token, os.environ["OIDC_DOUBLE_CONTROL_TOKEN"]):
            return JsonResponse({"detail": "POST with X-Control-Token"}, status=403)
        return view(request, json.loads(request.body or b"{}"), *args, **kwargs)

    return wrapped


def _set_groups(user: User, names: list[str]) -> None:
    user.groups.set([Group.objects.get_or_create(name=name)[0] for name in names])


@_control
def user_put(request, data):
    user, _ = User.objects.get_or_create(username=data["username"])
    user.set_password(data["password"]) if data.get("password") else None
    user.email = data.get("email", user.email)
    user.first_name = data.get("first_name", user.first_name)
    user.last_name = data.get("last_name", user.last_name)
    user.is_active = data.get("is_active", True)
    user.save()
    if "groups" in data:
        _set_groups(user, data["groups"])
    return JsonResponse({"id": user.pk, "sub": str(user.pk), "username": user.username,
                         "groups": sorted(user.groups.values_list("name", flat=True))})


@_control
def client_put(request, data):
    client = Client.objects.get(client_id=data["client_id"])
    client.redirect_uris = sorted(set(client.redirect_uris) | set(data.get("redirect_uris", [])))
    client.post_logout_redirect_uris = sorted(
        set(client.post_logout_redirect_uris) | set(data.get("post_logout_redirect_uris", [])))
    client.save()
    return JsonResponse({"redirect_uris": client.redirect_uris,
                         "post_logout_redirect_uris": client.post_logout_redirect_uris})


@_control
def mode_put(request, data):
    if data.get("mode") not in state.MODES:
        return JsonResponse({"detail": f"mode is one of {', '.join(state.MODES)}"}, status=400)
    state.mode = data["mode"]
    return JsonResponse({"mode": state.mode})


@_control
def reset(request, data):
    """Back to a provider with no users, no sessions and no issued codes or tokens; clients and keys stay."""
    from django.contrib.sessions.models import Session

    state.mode = "normal"
    for model in (Code, Token, UserConsent, Session):
        model.objects.all().delete()
    User.objects.all().delete()
    Group.objects.all().delete()
    return JsonResponse({"mode": state.mode})


@_control
def sessions(request, data):
    """Who is signed in at the provider (to prove that signing out of the console ended it there too)."""
    from django.contrib.sessions.models import Session

    users = set()
    for session in Session.objects.all():
        user_id = session.get_decoded().get("_auth_user_id")
        if user_id:
            users.add(User.objects.get(pk=user_id).username)
    return JsonResponse({"signed_in": sorted(users)})
