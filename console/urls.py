from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from console.api.docs import ApiDocsView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("console.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="schema"), name="api-docs"),
    # Browsers ask for /favicon.ico whatever the page links (the admin, the API docs, plain files).
    # Lazy: in production the hashed name is read from collectstatic's manifest, at the first request.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("console/favicon.svg"))),
    path("", include("console.portal.urls")),
]

# Under /api/ even an error no view caught answers {"detail", "code"} JSON, never an HTML page.
handler404 = "console.api.errors.page_not_found"
handler500 = "console.api.errors.server_error"
