from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from console.api.docs import ApiDocsView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    # set_language: the switcher in the top bar posts here and the choice is kept in a cookie.
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("console.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="schema"), name="api-docs"),
    # Browsers ask for /favicon.ico whatever the page links (the admin, the API docs, plain files).
    path("favicon.ico", RedirectView.as_view(url=static("console/favicon.svg"))),
    path("", include("console.portal.urls")),
]

# Under /api/ even an error no view caught answers {"detail", "code"} JSON, never an HTML page.
handler404 = "console.api.errors.page_not_found"
handler500 = "console.api.errors.server_error"
