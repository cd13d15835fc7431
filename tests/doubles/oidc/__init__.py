"""A real OpenID Connect provider for tests: django-oidc-provider in a separate small Django project and
process on 127.0.0.1, with a control API to create users with groups and passwords and to make it misbehave.
Fixtures: tests.doubles.oidc.fixtures (`oidc_provider`)."""

from tests.doubles.oidc.process import OidcProvider, ProviderUser

__all__ = ["OidcProvider", "ProviderUser"]
