"""Requests with a NUL character are refused with a 400, over real HTTP, before any query runs."""

from __future__ import annotations

import pytest
import requests

from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_nul_in_an_api_filter_is_a_json_400(live_server):
    user = make_user("nul-user", password="nul-pass-123")
    from django.test import Client

    client = Client()
    client.force_login(user)
    response = requests.get(f"{live_server.url}/api/v1/projects/", params={"organization": "a\x00b"},
                            cookies={"sessionid": client.cookies["sessionid"].value}, timeout=30)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "NUL" in response.json()["detail"]


def test_a_nul_in_a_portal_query_is_a_400(live_server):
    response = requests.get(f"{live_server.url}/accounts/login/", params={"next": "/\x00"}, timeout=30)
    assert response.status_code == 400
