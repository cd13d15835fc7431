from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("console.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("console.portal.urls")),
]

# Under /api/ even an error no view caught answers {"detail", "code"} JSON, never an HTML page.
handler404 = "console.api.errors.page_not_found"
handler500 = "console.api.errors.server_error"
