"""Refuse requests no view can handle before they reach one.

A NUL character in the query string decodes into a str that PostgreSQL cannot compare against
("text fields cannot contain NUL bytes"): any filter built from it would answer 500. No legitimate
parameter carries one, so it is refused once here instead of in every filter.
"""

from __future__ import annotations

from django.http import HttpResponseBadRequest, JsonResponse

NUL = "\x00"


class RejectNullCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path or any(NUL in key or any(NUL in v for v in values)
                                      for key, values in request.GET.lists()):
            message = "the request's path or query string contains a NUL character"
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message, "code": "invalid"}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain")
        return self.get_response(request)
