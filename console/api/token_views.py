"""The API token endpoint (username + password → token) and a user's own tokens: list and revoke."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from console.api import serializers as s
from console.api.errors import error_response
from console.models import ApiToken, AuditEvent
from console.services.actors import Actor
from console.services.api_tokens import api_token_issue, api_token_revoke, api_tokens_of


class ApiTokenSerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at", "is_active"]


def _actor(request) -> Actor:
    return Actor.for_user(request.user, AuditEvent.Interface.API)


class AuthTokenView(APIView):
    """Exchange a username and password for a new API token (`Authorization: Token <token>`); it expires after
    DSO_API_TOKEN_LIFETIME_DAYS. Failed attempts are throttled per client address (console.throttle)."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]  # attempts of any outcome, beside the failure count
    throttle_scope = "login"

    @extend_schema(request=s.TokenRequestSerializer, responses={200: s.TokenSerializer})
    def post(self, request):
        form = s.TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = authenticate(request, username=form.validated_data["username"],
                            password=form.validated_data["password"])
        if user is None or not user.is_active:
            return error_response(_("unable to sign in with these credentials"), "invalid_credentials",
                                  status.HTTP_400_BAD_REQUEST)
        token, secret = api_token_issue(actor=Actor.for_user(user, AuditEvent.Interface.API),
                                        name=form.validated_data.get("name", ""))
        return Response({"token": secret, "id": token.pk, "expires_at": token.expires_at},
                        headers={"Cache-Control": "no-store"})


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    lifetime_days = serializers.IntegerField(required=False, min_value=1,
                                             help_text="1 to DSO_API_TOKEN_MAX_LIFETIME_DAYS; default "
                                                       "DSO_API_TOKEN_LIFETIME_DAYS")


class ApiTokenListView(APIView):
    """The caller's own API tokens (the secrets are never shown again); `POST` makes a personal token for
    whoever is signed in (a session or another token), which is how people who sign in through the identity
    provider, and have no console password, get API access outside the portal."""

    @extend_schema(responses=ApiTokenSerializer(many=True))
    def get(self, request):
        return Response(ApiTokenSerializer(api_tokens_of(actor=_actor(request)), many=True).data)

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: s.TokenSerializer})
    def post(self, request):
        form = ApiTokenCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        token, secret = api_token_issue(actor=_actor(request), **form.validated_data)
        return Response({"token": secret, "id": token.pk, "expires_at": token.expires_at},
                        status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class ApiTokenRevokeView(APIView):
    @extend_schema(request=None, responses=ApiTokenSerializer)
    def post(self, request, token_id: int):
        token = get_object_or_404(api_tokens_of(actor=_actor(request)), pk=token_id)
        return Response(ApiTokenSerializer(api_token_revoke(actor=_actor(request), token=token)).data)
