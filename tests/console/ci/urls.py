"""The site's URLs plus the portal lines the lead adds to console/portal/urls.py for CI triggers."""

from django.urls import include, path

from console import urls as site_urls
from console.portal import urls as portal_urls
from console.portal.views import ci

CI_PORTAL_URLS = [
    path("repositories/<int:pk>/ci-tokens/", ci.ci_token_new, name="repository_ci_token_new"),
    path("repositories/<int:pk>/ci-tokens/<int:token_id>/revoke/", ci.ci_token_revoke_view,
         name="repository_ci_token_revoke"),
    path("repositories/<int:pk>/ci-settings/", ci.ci_settings_update, name="repository_ci_settings"),
    path("repositories/<int:pk>/webhook-secret/", ci.webhook_secret_rotate, name="repository_webhook_secret"),
]

urlpatterns = [
    *[p for p in site_urls.urlpatterns if str(p.pattern) != ""],
    path("", include((portal_urls.urlpatterns + CI_PORTAL_URLS, "portal"))),
]
