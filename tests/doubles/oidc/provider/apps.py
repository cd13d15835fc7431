from django.apps import AppConfig


class ProviderDoubleConfig(AppConfig):
    name = "tests.doubles.oidc.provider"
    label = "oidc_double"
