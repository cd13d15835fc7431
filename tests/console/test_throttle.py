"""Every credential check is throttled per client address, over real HTTP (live_server + requests), and an
invented X-Forwarded-For neither resets the count nor frames someone else."""

from __future__ import annotations

import pytest
import requests

from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pass-word-123"
LIMIT = 3


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.LOGIN_FAILURE_LIMIT = LIMIT
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 3600  # one window for the whole test


def form_sign_in(url: str, username: str, password: str, forwarded_for: str) -> requests.Response:
    """A browser's sign-in: fetch the form (CSRF cookie), post it."""
    session = requests.Session()
    session.get(url, timeout=10)
    return session.post(url, data={"username": username, "password": password,
                                   "csrfmiddlewaretoken": session.cookies["csrftoken"]},
                        headers={"X-Forwarded-For": forwarded_for, "Referer": url}, allow_redirects=False,
                        timeout=10)


@pytest.mark.parametrize("path, staff", [("/accounts/login/", False), ("/admin/login/", True)])
def test_sign_in_forms_refuse_even_the_right_password_after_the_limit(live_server, path, staff):
    make_user("alice", staff=staff)
    url = live_server.url + path
    for attempt in range(LIMIT):
        response = form_sign_in(url, "alice", "wrong", forwarded_for=f"198.51.100.{attempt}")
        assert response.status_code == 200  # the form again, with its error
    refused = form_sign_in(url, "alice", PASSWORD, forwarded_for="198.51.100.200")
    assert refused.status_code == 429
    assert "too many failed sign-in attempts" in refused.text
    assert int(refused.headers["Retry-After"]) > 0
    assert "sessionid" not in refused.cookies


def test_the_api_token_endpoint_counts_per_real_address(live_server):
    make_user("alice")
    url = f"{live_server.url}/api/v1/auth/token/"
    for attempt in range(LIMIT):
        response = requests.post(url, data={"username": "alice", "password": "wrong"},
                                 headers={"X-Forwarded-For": f"203.0.113.{attempt}"}, timeout=10)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_credentials"
    refused = requests.post(url, data={"username": "alice", "password": PASSWORD},
                            headers={"X-Forwarded-For": "203.0.113.99"}, timeout=10)
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"


def test_unknown_api_tokens_count_as_failures(live_server):
    make_user("alice")
    token = requests.post(f"{live_server.url}/api/v1/auth/token/", data={"username": "alice", "password": PASSWORD},
                          timeout=10).json()["token"]
    url = f"{live_server.url}/api/v1/projects/"
    assert requests.get(url, headers={"Authorization": f"Token {token}"}, timeout=10).status_code == 200
    for attempt in range(LIMIT):
        response = requests.get(url, headers={"Authorization": f"Token guess-{attempt}",
                                              "X-Forwarded-For": f"192.0.2.{attempt}"}, timeout=10)
        assert response.status_code == 401
    # Now the guesser's address is refused before any token is looked at, the good one included.
    assert requests.get(url, headers={"Authorization": f"Token {token}"}, timeout=10).status_code == 429


def test_behind_a_trusted_proxy_the_address_it_saw_is_the_client(live_server, settings):
    """With one trusted proxy, the last X-Forwarded-For entry (the proxy's) is the client; what the client
    wrote before it is ignored, and another client behind the same proxy is not affected."""
    settings.TRUSTED_PROXIES = 1
    make_user("alice")
    url = f"{live_server.url}/api/v1/auth/token/"
    for attempt in range(LIMIT):
        forwarded = f"10.0.0.{attempt}, 203.0.113.5"  # the client's own claim, then what the proxy appended
        assert requests.post(url, data={"username": "alice", "password": "wrong"},
                             headers={"X-Forwarded-For": forwarded}, timeout=10).status_code == 400
    guesser = requests.post(url, data={"username": "alice", "password": PASSWORD},
                            headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.5"}, timeout=10)
    assert guesser.status_code == 429
    neighbour = requests.post(url, data={"username": "alice", "password": PASSWORD},
                              headers={"X-Forwarded-For": "203.0.113.6"}, timeout=10)
    assert neighbour.status_code == 200 and neighbour.json()["token"]
