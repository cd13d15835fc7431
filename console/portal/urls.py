from __future__ import annotations

from django.urls import path

from console.portal.views import (
    ci,
    dashboard,
    live,
    members,
    operations,
    organizations,
    projects,
    repositories,
    syncs,
    tokens,
)

app_name = "portal"

urlpatterns = [
    path("", organizations.home, name="home"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("operations/", operations.operations, name="operations"),
    path("organizations/new/", organizations.organization_new, name="organization_new"),
    path("organizations/<slug:slug>/", organizations.organization_detail, name="organization"),
    path("organizations/<slug:slug>/members/", members.organization_member_add, name="organization_member_add"),
    path("organizations/<slug:slug>/members/<int:membership_id>/remove/", members.organization_member_remove,
         name="organization_member_remove"),
    path("organizations/<slug:slug>/projects/new/", organizations.project_new,
         name="organization_project_new"),
    path("projects/new/", organizations.project_new, name="project_new"),
    path("projects/<int:pk>/", projects.project_detail, name="project"),
    path("projects/<int:pk>/provision/", projects.project_provision, name="project_provision"),
    path("projects/<int:pk>/archive/", projects.project_archive_view, name="project_archive"),
    path("projects/<int:pk>/live/", live.project_live, name="project_live"),
    path("projects/<int:pk>/manifests/", projects.project_manifests, name="project_manifests"),
    path("projects/<int:pk>/manifests.yaml", projects.project_manifests_download,
         name="project_manifests_yaml"),
    path("projects/<int:pk>/members/", projects.member_add, name="member_add"),
    path("projects/<int:pk>/members/<int:membership_id>/remove/", projects.member_remove,
         name="member_remove"),
    path("projects/<int:pk>/repositories/", repositories.repository_new, name="repository_new"),
    path("repositories/<int:pk>/", repositories.repository_detail, name="repository"),
    path("repositories/<int:pk>/live/", live.repository_live, name="repository_live"),
    path("repositories/<int:pk>/edit/", repositories.repository_edit, name="repository_edit"),
    path("repositories/<int:pk>/remove/", repositories.repository_remove_view, name="repository_remove"),
    path("repositories/<int:pk>/images/bump/", repositories.image_bump, name="image_bump"),
    path("repositories/<int:pk>/sync/", syncs.sync_new, name="sync_new"),
    path("repositories/<int:pk>/ci-tokens/", ci.ci_token_new, name="repository_ci_token_new"),
    path("repositories/<int:pk>/ci-tokens/<int:token_id>/revoke/", ci.ci_token_revoke_view,
         name="repository_ci_token_revoke"),
    path("repositories/<int:pk>/ci-settings/", ci.ci_settings_update, name="repository_ci_settings"),
    path("repositories/<int:pk>/webhook-secret/", ci.webhook_secret_rotate, name="repository_webhook_secret"),
    path("syncs/<int:pk>/partial/", syncs.sync_partial, name="sync_partial"),
    path("tokens/", tokens.api_tokens, name="api_tokens"),
    path("tokens/<int:token_id>/revoke/", tokens.api_token_revoke_view, name="api_token_revoke"),
]
