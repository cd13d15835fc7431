"""The interactive API documentation page."""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerView


class ApiDocsView(SpectacularSwaggerView):
    """Swagger UI. Only GET/HEAD: its template renderer has no page for OPTIONS metadata, which made
    ``OPTIONS /api/docs/`` a 500; now it is a 405 like any other method the page does not serve."""

    http_method_names = ["get", "head"]
