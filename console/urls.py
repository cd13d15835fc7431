from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.decorators.http import require_POST
from django.views.i18n import set_language
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from console.api.docs import ApiDocsView
from console.portal.views import auth as auth_views

urlpatterns = [
    path("admin/", admin.site.urls),
    # Ours first: the sign-in page leads with the identity provider; sign-out ends its session too.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.logout_view, name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    # The language switcher in the top bar posts here; the choice is kept in a cookie. POST only: Django's
    # view would answer any other method with a redirect.
    path("i18n/setlang/", require_POST(set_language), name="set_language"),
    path("oidc/login/", auth_views.oidc_login, name="oidc_login"),
    path("oidc/callback/", auth_views.oidc_callback, name="oidc_callback"),
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
