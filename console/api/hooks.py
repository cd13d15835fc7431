"""Forge webhooks. No user authentication: the repository's webhook secret is the credential, checked by
the service; the raw body is read here (bounded) because GitHub signs exactly those bytes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from console.services.webhooks import check_body_size, webhook_receive_github, webhook_receive_gitlab

STATUS_FOR = {"queued": status.HTTP_202_ACCEPTED, "joined": status.HTTP_202_ACCEPTED,
              "ignored": status.HTTP_202_ACCEPTED, "pong": status.HTTP_200_OK,
              # A replay is acknowledged (so the forge does not retry or disable the hook) and does nothing.
              "duplicate": status.HTTP_200_OK}


class _WebhookView(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    receive = None

    @extend_schema(request=None, responses={200: None, 202: None, 401: None, 413: None})
    def post(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        check_body_size(length)  # refuse before reading a byte
        outcome = type(self).receive(headers=request.headers, body=request.body)
        body = {"detail": outcome.result, "message": outcome.detail}
        if outcome.run is not None:
            body.update(run=outcome.run.pk, status=outcome.run.status)
        return Response(body, status=STATUS_FOR[outcome.result])


class GitLabWebhookView(_WebhookView):
    """GitLab push and tag push hooks (secret token = the repository's webhook secret)."""

    receive = staticmethod(webhook_receive_gitlab)


class GitHubWebhookView(_WebhookView):
    """GitHub push hooks, signed with the repository's webhook secret (X-Hub-Signature-256)."""

    receive = staticmethod(webhook_receive_github)
