"""The interactive API documentation page."""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI, its start-up script served as a file (the Content-Security-Policy allows no inline script). Only GET/HEAD: its template renderer has no page for OPTIONS metadata, which made
    ``OPTIONS /api/docs/`` a 500; now it is a 405 like any other method the page does not serve."""

    http_method_names = ["get", "head"]
