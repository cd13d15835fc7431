"""Responses shared by the API views."""

from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response


def accepted_run(body: dict) -> Response:
    """202 with a serialized run, and `Location` its absolute URL.

    The header must be a plain `str`: `HyperlinkedIdentityField` gives a `Hyperlink` (a str subclass), which
    Django's test client lets through but wsgiref (runserver) rejects with a 500 after the run was created."""
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": str(body["url"])})
