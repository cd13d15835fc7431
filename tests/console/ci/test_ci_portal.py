"""The portal's CI section: maintainers create and revoke tokens, set allowed projects, get snippets."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from console.models import AuditEvent, CiToken, Role
from console.portal.views.ci import ci_context
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_maintainer_creates_and_revokes_a_token(repo_a, maintainer):
    client = signed_in(maintainer)
    posted = client.post(f"/repositories/{repo_a.pk}/ci-tokens/",
                         {"ci-name": "gitlab-ci", "ci-scopes": ["sync", "report_build"]})
    assert posted.status_code == 302 and posted["Location"] == f"/repositories/{repo_a.pk}/#ci-triggers"
    response = client.get(posted["Location"])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = CiToken.objects.get(repository=repo_a)
    assert token.scopes == ["sync", "report_build"]
    assert "sync, report_build" in response.content.decode()
    assert response.context["ci_new_secret"].startswith(token.prefix)
    response = client.post(f"/repositories/{repo_a.pk}/ci-tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert set(AuditEvent.objects.filter(interface="portal").values_list("action", flat=True)) >= {
        "ci_token.create", "ci_token.revoke"}


def test_the_token_form_offers_scopes_and_refuses_none_or_unknown(repo_a, maintainer):
    client = signed_in(maintainer)
    page = client.get(f"/repositories/{repo_a.pk}/").content.decode()
    for scope in ["sync", "report_build", "bump"]:
        assert f'name="ci-scopes" value="{scope}"' in page
    assert 'value="sync" id="id_ci-scopes_0" checked' in page  # the default
    assert 'value="bump" id="id_ci-scopes_2" checked' not in page
    none = client.post(f"/repositories/{repo_a.pk}/ci-tokens/", {"ci-name": "x"})
    assert none.status_code == 400 and "choose at least one scope" in none.content.decode()
    unknown = client.post(f"/repositories/{repo_a.pk}/ci-tokens/", {"ci-name": "x", "ci-scopes": ["deploy"]})
    assert unknown.status_code == 400 and "deploy" in unknown.content.decode()
    assert not CiToken.objects.exists()


def test_developers_cannot_manage_ci(repo_a):
    developer = make_user()
    make_member(developer, repo_a.project, Role.DEVELOPER)
    client = signed_in(developer)
    assert client.post(f"/repositories/{repo_a.pk}/ci-tokens/", {"ci-name": "x", "ci-scopes": "sync"}).status_code == 403
    assert client.post(f"/repositories/{repo_a.pk}/webhook-secret/").status_code == 403
    assert client.post(f"/repositories/{repo_a.pk}/ci-settings/", {"cis-ci_allowed_project_paths": "a/b"}).status_code == 403
    assert not CiToken.objects.exists()


def test_ci_settings_are_validated_by_the_model(repo_a, maintainer):
    client = signed_in(maintainer)
    response = client.post(f"/repositories/{repo_a.pk}/ci-settings/",
                           {"cis-ci_allowed_project_paths": "acme/app\nacme/sub/lib\n"})
    assert response.status_code == 302
    repo_a.refresh_from_db()
    assert repo_a.ci_allowed_project_paths == ["acme/app", "acme/sub/lib"]
    assert repo_a.ci_protected_refs_only is False  # unchecked box
    bad = client.post(f"/repositories/{repo_a.pk}/ci-settings/", {"cis-ci_allowed_project_paths": "not a path"})
    assert bad.status_code == 400


def test_snippets_carry_the_public_url_repository_and_audience(repo_a, maintainer, gitlab_instance, settings):
    settings.PUBLIC_URL = "https://console.example.test"
    request = RequestFactory().get("/")
    request.user = maintainer
    html = render_to_string("portal/partials/ci_snippets.html",
                            ci_context(request, repo_a, ci_new_secret="dsoci_shown-once"), request=request)
    assert f"https://console.example.test/api/v1/repositories/{repo_a.pk}/sync/" in html
    assert "DSO_CONSOLE_TOKEN" in html and "DSO_ID_TOKEN" in html
    assert f"aud: {gitlab_instance.audience}" in html
    assert "dsoci_shown-once" in html
    assert "acme/shop-backend" in html
