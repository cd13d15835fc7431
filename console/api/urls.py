from django.urls import path
from rest_framework.routers import DefaultRouter

from console.api import ci_views, hooks, views

app_name = "api"

router = DefaultRouter()
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("projects", views.ProjectViewSet, basename="project")
router.register("repositories", views.RepositoryViewSet, basename="repository")
router.register("syncs", views.SyncRunViewSet, basename="syncrun")

urlpatterns = [
    path("auth/token/", views.AuthTokenView.as_view(), name="auth-token"),
    path("hooks/gitlab/", hooks.GitLabWebhookView.as_view(), name="hook-gitlab"),
    path("hooks/github/", hooks.GitHubWebhookView.as_view(), name="hook-github"),
    path("repositories/<int:pk>/ci-tokens/", ci_views.CiTokenListView.as_view(), name="repository-ci-tokens"),
    path("repositories/<int:pk>/ci-tokens/<int:token_id>/", ci_views.CiTokenDetailView.as_view(),
         name="repository-ci-token"),
    path("repositories/<int:pk>/ci-tokens/<int:token_id>/revoke/", ci_views.CiTokenDetailView.as_view(),
         name="repository-ci-token-revoke"),
    path("repositories/<int:pk>/ci-settings/", ci_views.CiSettingsView.as_view(), name="repository-ci-settings"),
    path("repositories/<int:pk>/webhook-secret/", ci_views.WebhookSecretView.as_view(),
         name="repository-webhook-secret"),
    *router.urls,
]
