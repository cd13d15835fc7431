"""pytest fixtures for the OpenID Connect provider double.

  * `oidc_provider_process`: one provider process for the whole session (start-up migrates SQLite: ~2 s);
  * `oidc_provider`: that provider reset (no users, normal mode) and the console's settings pointed at it,
    accepting callbacks on http://testserver (Django's test client). For a live server or a browser, call
    `oidc_provider.allow_console(live_server.url)`.

    user = oidc_provider.create_user("alice", "pw-alice", groups=["dso/acme/owner"])
    oidc_provider.issuer, oidc_provider.client_id, oidc_provider.client_secret

  * `oidc_live_provider`: the same, also accepting callbacks on pytest-django's `live_server` (a browser).

In a browser: the console's sign-in page has `#oidc-sign-in` (the provider's button); the provider's form is
`#provider-login` with `#id_username`, `#id_password` and `#provider-sign-in`; after it the browser lands on
the page it asked for (`?next=`). Console and provider cookies have different names, so one browser context
holds both sessions on 127.0.0.1. `oidc_provider.signed_in()` lists who has a provider session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.doubles.oidc.process import OidcProvider


@pytest.fixture(scope="session")
def oidc_provider_process(tmp_path_factory) -> Iterator[OidcProvider]:
    with OidcProvider(tmp_path_factory.mktemp("oidc-provider")) as provider:
        yield provider


@pytest.fixture
def oidc_provider(oidc_provider_process: OidcProvider, settings) -> Iterator[OidcProvider]:
    provider = oidc_provider_process
    if not provider.running:  # a test stopped it to see the provider down
        provider.start()
    provider.reset()
    provider.configure_console(settings)
    yield provider
    if not provider.running:
        provider.start()


@pytest.fixture
def oidc_live_provider(oidc_provider: OidcProvider, live_server) -> OidcProvider:
    oidc_provider.allow_console(live_server.url)
    return oidc_provider
