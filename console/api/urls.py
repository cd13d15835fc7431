from django.urls import path
from rest_framework.routers import DefaultRouter

from console.api import views

app_name = "api"

router = DefaultRouter()
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("projects", views.ProjectViewSet, basename="project")
router.register("repositories", views.RepositoryViewSet, basename="repository")
router.register("syncs", views.SyncRunViewSet, basename="syncrun")

urlpatterns = [
    path("auth/token/", views.AuthTokenView.as_view(), name="auth-token"),
    *router.urls,
]
