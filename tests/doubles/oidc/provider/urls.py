from django.contrib.auth import views as auth_views
from django.urls import include, path

from tests.doubles.oidc.provider import control

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("openid/", include("oidc_provider.urls", namespace="oidc_provider")),
    path("_control/users/", control.user_put),
    path("_control/clients/", control.client_put),
    path("_control/mode/", control.mode_put),
    path("_control/reset/", control.reset),
    path("_control/sessions/", control.sessions),
]
