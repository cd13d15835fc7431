"""Request limits the API answers in its own error shape."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from django.http import JsonResponse


class ApiBodyLimitMiddleware:
    """A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` sent to the API (webhooks included) gets a JSON 413
    before anything reads it. Left to Django, reading it raises ``RequestDataTooBig``, which the handler
    turns into an HTML 400 page: wrong status, wrong shape for an API client."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and request.path_info.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return JsonResponse(
                    {"detail": _("request bodies are limited to %(limit)s bytes") % {"limit": limit},
                     "code": "payload_too_large"},
                    status=413,
                )
        return self.get_response(request)
