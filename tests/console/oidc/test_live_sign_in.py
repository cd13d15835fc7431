"""The whole round trip over real HTTP on both sides, as a browser does it: the console served by
pytest-django's live server, one requests.Session following every redirect between the console and the
provider (their cookies share 127.0.0.1 and must not collide), the provider's login form posted."""

from __future__ import annotations

import re

import pytest
import requests

from console.models import Membership
from tests.factories import make_organization, make_project


@pytest.mark.django_db(transaction=True)
def test_a_browser_like_session_signs_in_sees_its_project_and_signs_out(live_server, oidc_live_provider):
    oidc_provider = oidc_live_provider
    shop = make_project(make_organization("acme"), "shop")
    user = oidc_provider.create_user("ivy", "pw-ivy-1", groups=["dso/acme/shop/developer"])
    browser = requests.Session()

    login_page = browser.get(f"{live_server.url}/accounts/login/?next=/projects/{shop.pk}/", timeout=10)
    button = re.search(r'id="oidc-sign-in" href="([^"]+)"', login_page.text).group(1).replace("&amp;", "&")
    provider_form = browser.get(live_server.url + button, timeout=10)
    assert provider_form.url.startswith(oidc_provider.login_url)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', provider_form.text).group(1)
    next_value = re.search(r'name="next" value="([^"]*)"', provider_form.text).group(1).replace("&amp;", "&")
    project_page = browser.post(oidc_provider.login_url, timeout=10, headers={"Referer": provider_form.url},
                                data={"csrfmiddlewaretoken": csrf, "username": user.username,
                                      "password": user.password, "next": next_value})

    assert project_page.status_code == 200 and project_page.url == f"{live_server.url}/projects/{shop.pk}/"
    assert "ivy" in project_page.text
    assert {c.name for c in browser.cookies} >= {"sessionid", "oidcdouble_sessionid"}
    assert Membership.objects.get(user__username="ivy").source == "oidc"

    csrf = browser.cookies.get("csrftoken")
    signed_out = browser.post(f"{live_server.url}/accounts/logout/", data={"csrfmiddlewaretoken": csrf},
                              headers={"Referer": project_page.url}, timeout=10)
    assert signed_out.url.startswith(f"{live_server.url}/accounts/login/")
    assert oidc_provider.signed_in() == []
    assert browser.get(f"{live_server.url}/projects/{shop.pk}/", timeout=10).url.startswith(
        f"{live_server.url}/accounts/login/")
