"""A minimal Django project around django-oidc-provider: the identity provider the console's tests sign in
through. It runs in its own process (tests.doubles.oidc.server) with its own SQLite file and never imports
the console: the two talk only over HTTP on loopback, as the console and Keycloak would."""
