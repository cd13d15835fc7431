"""Signing in through the provider double with Django's test client on the console side and real HTTP
(requests) at the provider: the console's callback then talks to the provider over loopback itself."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests


def start(client, next_url: str = "/"):
    """GET the console's OIDC sign-in; returns the provider authorization URL it redirects to."""
    response = client.get("/oidc/login/", {"next": next_url})
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def sign_in(client, provider, user, *, browser: requests.Session | None = None, next_url: str = "/"):
    """The whole round trip; returns the console's answer to the callback."""
    authorize_url = start(client, next_url)
    callback = provider.sign_in(browser or requests.Session(), authorize_url, user)
    assert callback.startswith("http://testserver/oidc/callback/"), callback
    return client.get(callback)


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
