"""CI tokens, CI settings and the webhook secret of a repository; the CI side of the sync endpoint."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from console import selectors
from console.api import ci_serializers as cs
from console.api.responses import accepted_run
from console.api.serializers import SyncRunSerializer
from console.authorization import authorize
from console.models import AuditEvent
from console.models.ci import CiScope
from console.services.actors import Actor
from console.services.ci_tokens import (
    CiGrant,
    ci_grant_repository,
    ci_sync_request,
    ci_token_create,
    ci_token_revoke,
    ci_tokens_for,
    repository_ci_settings_update,
)
from console.services.webhooks import repository_webhook_secret_rotate


def _actor(request) -> Actor:
    return Actor.for_user(request.user, AuditEvent.Interface.API)


def _repository(request, pk: int):
    return get_object_or_404(selectors.repositories_visible_to(request.user), pk=pk)


def _managed_repository(request, pk: int, *, reading: bool = False):
    """The repository, once the caller may manage its CI: checked before the body is read, so that someone
    without the role gets 403/404, never a validation error."""
    repository = _repository(request, pk)
    authorize(_actor(request), "repository.ci_manage", repository, reading=reading)
    return repository


def ci_sync_response(request, repository_id: int) -> Response:
    """POST /repositories/{id}/sync/ by a pipeline: the grant must cover this repository."""
    grant: CiGrant = request.auth
    ci_grant_repository(grant=grant, repository_id=int(repository_id), scope=CiScope.SYNC)  # before the body
    form = cs.CiSyncRequestSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    queued = ci_sync_request(grant=grant, repository_id=int(repository_id), reported=form.validated_data)
    body = SyncRunSerializer(queued.run, context={"request": request}).data
    return accepted_run(body)


class CiTokenListView(APIView):
    @extend_schema(responses=cs.CiTokenSerializer(many=True))
    def get(self, request, pk: int):
        tokens = ci_tokens_for(actor=_actor(request), repository=_repository(request, pk))
        return Response(cs.CiTokenSerializer(tokens, many=True).data)

    @extend_schema(request=cs.CiTokenCreateSerializer, responses={201: cs.CiTokenCreatedSerializer})
    def post(self, request, pk: int):
        repository = _managed_repository(request, pk)
        form = cs.CiTokenCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        token, secret = ci_token_create(actor=_actor(request), repository=repository, **form.validated_data)
        body = cs.CiTokenCreatedSerializer(token, context={"secret": secret}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


def _token(request, pk: int, token_id: int):
    return get_object_or_404(_repository(request, pk).ci_tokens.select_related("repository__project"), pk=token_id)


class CiTokenRevokeView(APIView):
    @extend_schema(request=None, responses=cs.CiTokenSerializer)
    def post(self, request, pk: int, token_id: int):
        """Revoke a token; pipelines using it are refused from now on. The row stays as history."""
        token = ci_token_revoke(actor=_actor(request), token=_token(request, pk, token_id))
        return Response(cs.CiTokenSerializer(token).data)


class CiTokenDetailView(APIView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk: int, token_id: int):
        """Revoke (same as POST .../revoke/); the row stays as history."""
        ci_token_revoke(actor=_actor(request), token=_token(request, pk, token_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CiSettingsView(APIView):
    @extend_schema(responses=cs.CiSettingsSerializer)
    def get(self, request, pk: int):
        repository = _managed_repository(request, pk, reading=True)
        return Response(cs.CiSettingsSerializer(repository).data)

    @extend_schema(request=cs.CiSettingsSerializer, responses=cs.CiSettingsSerializer)
    def patch(self, request, pk: int):
        repository = _managed_repository(request, pk)
        form = cs.CiSettingsSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        repository = repository_ci_settings_update(actor=_actor(request), repository=repository,
                                                   **form.validated_data)
        return Response(cs.CiSettingsSerializer(repository).data)


class WebhookSecretView(APIView):
    @extend_schema(request=None, responses={201: cs.WebhookSecretSerializer})
    def post(self, request, pk: int):
        """Generate a new webhook secret (the previous one stops working); it is shown only in this answer."""
        secret = repository_webhook_secret_rotate(actor=_actor(request), repository=_repository(request, pk))
        return Response({"webhook_secret": secret}, status=status.HTTP_201_CREATED,
                        headers={"Cache-Control": "no-store"})
