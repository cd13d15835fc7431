"""One mapping from domain errors to HTTP: every error body is {"detail": ..., "code": ...}.

An exception nothing expected still answers JSON under /api/: the DRF handler turns it into a 500 body (and
logs it), and ``server_error``/``page_not_found`` cover what happens outside a view (routing, rendering).
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from console.services.errors import DomainError

log = logging.getLogger(__name__)



def server_error_body() -> dict:
    return {"detail": _("internal server error: it was logged; try again or tell the platform team"),
            "code": "server_error"}


def exception_handler(exc, context):
    response = _handle(exc, context)
    request = context.get("request")
    if response is not None and getattr(request, "accepted_renderer", None) is not None:
        # A view that answers YAML (manifests) still answers its errors as JSON, labelled as such.
        if request.accepted_renderer.format not in ("json", "api"):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
    return response


def _handle(exc, context):
    if isinstance(exc, DomainError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        log.error("unexpected error in %s", type(view).__name__ if view else "an API view", exc_info=exc)
        set_rollback()
        return Response(server_error_body(), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": response.data, "code": "invalid"}
    elif isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        response.data = {"detail": str(detail), "code": getattr(detail, "code", "error")}
    return response


def error_response(message, code: str, http_status: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"detail": message, "code": code}, status=http_status)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    """handler500: JSON under /api/, the usual page elsewhere."""
    if _is_api(request):
        return JsonResponse(server_error_body(), status=500)
    return defaults.server_error(request, template_name)


def page_not_found(request, exception, template_name=defaults.ERROR_404_TEMPLATE_NAME):
    """handler404: JSON under /api/ (an unknown API path), the usual page elsewhere."""
    if _is_api(request):
        return JsonResponse({"detail": _("not found"), "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception, template_name)
