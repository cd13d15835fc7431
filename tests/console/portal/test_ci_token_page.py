"""The CI-token page: Post/Redirect/Get shows a new secret exactly once; a reload neither re-posts nor
shows it again; the secret never reaches a cookie."""

from __future__ import annotations

import pytest

from console.models import CiToken
from tests.factories import make_repository

pytestmark = pytest.mark.django_db


def test_a_new_ci_token_is_shown_once_after_a_redirect(client_for, user, owner_project):
    repository = make_repository(owner_project, "api")
    client = client_for(user)

    posted = client.post(f"/repositories/{repository.pk}/ci-tokens/", {"ci-name": "gitlab-ci", "ci-scopes": "sync"})

    assert posted.status_code == 302 and posted["Location"] == f"/repositories/{repository.pk}/#ci-triggers"
    token = CiToken.objects.get(repository=repository)
    assert not any(token.prefix in morsel.value for morsel in posted.cookies.values())
    shown = client.get(posted["Location"])
    secret = shown.context["ci_new_secret"]
    page = shown.content.decode()
    assert secret.startswith(token.prefix) and secret in page
    assert shown["Cache-Control"] == "no-store"
    assert 'data-copy-target="ci-new-secret"' in page and 'id="ci-new-secret"' in page

    reloaded = client.get(posted["Location"])
    assert secret not in reloaded.content.decode() and "ci_new_secret" not in reloaded.context
    assert CiToken.objects.filter(repository=repository).count() == 1


def test_a_new_webhook_secret_is_shown_once_after_a_redirect(client_for, user, owner_project):
    repository = make_repository(owner_project, "api")
    client = client_for(user)

    posted = client.post(f"/repositories/{repository.pk}/webhook-secret/")

    assert posted.status_code == 302
    shown = client.get(posted["Location"])
    secret = shown.context["ci_new_webhook_secret"]
    repository.refresh_from_db()
    assert secret == repository.webhook_secret and secret in shown.content.decode()
    assert secret not in client.get(posted["Location"]).content.decode()
