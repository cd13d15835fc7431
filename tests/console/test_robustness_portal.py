"""Every portal URL answers only the methods it serves: read-only pages are not "updated" by a PUT."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from console.portal import urls as portal_urls
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PAGE = {"GET", "HEAD"}
FORM = {"GET", "HEAD", "POST"}
ACTION = {"POST"}
# What each portal view serves. A new view must be listed here, so its methods are a decision.
SERVES = {
    "home": PAGE, "organization": PAGE, "project": PAGE, "project_manifests": PAGE,
    "project_manifests_yaml": PAGE, "repository": PAGE, "repository_syncs": PAGE, "sync_partial": {"GET"},
    "project_live": {"GET"}, "repository_live": {"GET"}, "repository_edit": FORM, "repository_remove": FORM,
    "organization_new": FORM, "organization_project_new": FORM, "project_new": FORM,
    "project_provision": ACTION, "project_quota": ACTION, "project_archive": ACTION, "member_add": ACTION,
    "member_remove": ACTION,
    "repository_new": ACTION, "image_bump": ACTION, "sync_new": ACTION, "repository_ci_token_new": ACTION,
    "repository_ci_token_revoke": ACTION, "repository_ci_settings": ACTION, "repository_webhook_secret": ACTION,
    "api_tokens": FORM, "api_token_revoke": ACTION,
    "dashboard": PAGE, "operations": FORM, "organization_member_add": ACTION, "organization_member_remove": ACTION,
    "project_refresh": ACTION, "image_rollback": ACTION, "image_unpin": ACTION, "repository_sync_schedule": ACTION,
    "image_inventory": PAGE, "image_tag_ledger": PAGE,
    "project_registries": FORM, "project_registry_edit": FORM, "project_registry_remove": ACTION,
    "project_registry_watch": ACTION, "project_registry_image_add": ACTION,
    "project_registry_image_remove": ACTION, "project_registry_policy": ACTION,
    "project_notifications": FORM, "project_notification_edit": ACTION, "project_notification_remove": ACTION,
}
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def portal_url(pattern: URLPattern) -> str:
    kwargs = {name: ("x" if name == "slug" else 1) for name in re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern))}
    return reverse(f"portal:{pattern.name}", kwargs=kwargs)


def test_every_portal_view_declares_what_it_serves():
    assert {p.name for p in portal_urls.urlpatterns} == set(SERVES)


def test_methods_a_portal_view_does_not_serve_get_405():
    client = Client()
    client.force_login(make_user())
    checked = 0
    for pattern in portal_urls.urlpatterns:
        url = portal_url(pattern)
        for method in METHODS:
            if method in SERVES[pattern.name]:
                continue
            response = client.generic(method, url)
            assert response.status_code == 405, (method, url, response.status_code)
            assert set(response["Allow"].replace(" ", "").split(",")) == SERVES[pattern.name], (method, url)
            checked += 1
    assert checked > 60
