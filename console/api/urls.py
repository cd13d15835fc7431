from django.urls import path
from rest_framework.routers import DefaultRouter

from console.api import ci_views, cluster_views, deployment_views, hooks, image_views, release_views, token_views, views

app_name = "api"

# No format-suffix routes (`projects.json`): content negotiation uses the Accept header, and half of the
# suffixed routes failed with a 500 (views that do not take a `format` argument).
class _Router(DefaultRouter):
    include_format_suffixes = False


router = _Router()
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("projects", views.ProjectViewSet, basename="project")
router.register("repositories", views.RepositoryViewSet, basename="repository")
router.register("syncs", views.SyncRunViewSet, basename="syncrun")
router.register("clusters", cluster_views.ClusterViewSet, basename="cluster")

urlpatterns = [
    path("auth/token/", token_views.AuthTokenView.as_view(), name="auth-token"),
    path("auth/tokens/", token_views.ApiTokenListView.as_view(), name="api-tokens"),
    path("auth/tokens/<int:token_id>/revoke/", token_views.ApiTokenRevokeView.as_view(), name="api-token-revoke"),
    path("hooks/gitlab/", hooks.GitLabWebhookView.as_view(), name="hook-gitlab"),
    path("hooks/github/", hooks.GitHubWebhookView.as_view(), name="hook-github"),
    path("repositories/<int:pk>/ci-tokens/", ci_views.CiTokenListView.as_view(), name="repository-ci-tokens"),
    path("repositories/<int:pk>/ci-tokens/<int:token_id>/", ci_views.CiTokenDetailView.as_view(),
         name="repository-ci-token"),
    path("repositories/<int:pk>/ci-tokens/<int:token_id>/revoke/", ci_views.CiTokenRevokeView.as_view(),
         name="repository-ci-token-revoke"),
    path("repositories/<int:pk>/ci-settings/", ci_views.CiSettingsView.as_view(), name="repository-ci-settings"),
    path("repositories/<int:pk>/webhook-secret/", ci_views.WebhookSecretView.as_view(),
         name="repository-webhook-secret"),
    path("repositories/<int:pk>/images/", image_views.RepositoryImagesView.as_view(), name="repository-images"),
    path("repositories/<int:pk>/images/built/", image_views.BuiltImageView.as_view(), name="repository-image-built"),
    path("repositories/<int:pk>/image-tags/", image_views.RepositoryImageTagsView.as_view(),
         name="repository-image-tags"),
    path("repositories/<int:pk>/sync-schedule/", release_views.SyncScheduleView.as_view(),
         name="repository-sync-schedule"),
    path("repositories/<int:pk>/pins/", release_views.RepositoryPinsView.as_view(), name="repository-pins"),
    path("repositories/<int:pk>/pins/unpin/", release_views.RepositoryUnpinView.as_view(),
         name="repository-unpin"),
    path("images/inventory/", release_views.ImageInventoryView.as_view(), name="image-inventory"),
    path("images/<path:image>/tags/<str:tag>/", release_views.ImageTagLedgerView.as_view(), name="image-tag-ledger"),
    path("projects/<int:pk>/notification-targets/", release_views.ProjectNotificationTargetsView.as_view(),
         name="project-notification-targets"),
    path("notification-targets/<int:pk>/", release_views.NotificationTargetView.as_view(),
         name="notification-target"),
    path("projects/<int:pk>/notification-deliveries/", release_views.ProjectNotificationDeliveriesView.as_view(),
         name="project-notification-deliveries"),
    path("projects/<int:pk>/registries/", release_views.ProjectRegistriesView.as_view(), name="project-registries"),
    path("registries/<int:pk>/", release_views.RegistryDetailView.as_view(), name="registry-detail"),
    path("registries/<int:pk>/images/", release_views.RegistryImagesView.as_view(), name="registry-images"),
    path("registries/<int:pk>/images/<int:image_id>/", release_views.RegistryImageView.as_view(),
         name="registry-image"),
    path("registries/<int:pk>/images/<int:image_id>/policy/", release_views.TagPolicyView.as_view(),
         name="registry-image-policy"),
    path("registries/<int:pk>/watch/", release_views.RegistryWatchView.as_view(), name="registry-watch"),
    path("repositories/<int:pk>/merge-request-settings/", release_views.MergeRequestSettingsView.as_view(),
         name="repository-merge-request-settings"),
    path("repositories/<int:pk>/rollback/", release_views.RepositoryRollbackView.as_view(),
         name="repository-rollback"),
    path("image-bumps/<int:pk>/", image_views.ImageBumpView.as_view(), name="image-bump"),
    path("projects/<int:pk>/warnings/", image_views.ProjectWarningsView.as_view(), name="project-warnings"),
    path("projects/<int:pk>/deployments/", deployment_views.ProjectDeploymentsView.as_view(),
         name="project-deployments"),
    path("projects/<int:pk>/drift/", deployment_views.ProjectDriftView.as_view(), name="project-drift"),
    path("projects/<int:pk>/refresh/", deployment_views.ProjectRefreshView.as_view(), name="project-refresh"),
    *router.urls,
]
