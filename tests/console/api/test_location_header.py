"""The sync endpoint's `Location` header, checked the way runserver's wsgiref checks every header.

Django's test client accepts any str subclass as a header value; wsgiref (`manage.py runserver`, so
`make run`) accepts only exact `str` and answers 500. `wsgiref.headers.Headers` is that check."""

from __future__ import annotations

from wsgiref.headers import Headers

import pytest
from rest_framework.test import APIClient

from console.models import Role
from console.services.actors import Actor
from console.services.ci_tokens import ci_token_create
from tests.factories import make_member, make_project, make_repository, make_user
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def repository_and_maintainer(monkeypatch):
    stand_in(monkeypatch, "sync", lambda run_id: None)
    maintainer = make_user()
    project = make_project()
    make_member(maintainer, project, Role.MAINTAINER)
    return make_repository(project, "app"), maintainer


def assert_location_is_a_plain_run_url(response):
    assert response.status_code == 202, response.content
    location = response.headers["Location"]
    assert type(location) is str
    assert location == f"http://testserver/api/v1/syncs/{response.json()['id']}/"
    Headers(list(response.items()))  # raises AssertionError, as runserver does, for a non-str value


def test_user_token_sync_answers_a_plain_location(repository_and_maintainer):
    repository, maintainer = repository_and_maintainer
    api = APIClient()
    api.force_authenticate(maintainer)
    assert_location_is_a_plain_run_url(api.post(f"/api/v1/repositories/{repository.pk}/sync/"))


@pytest.mark.parametrize("body", [None, {"pipeline_id": "7", "job_url": "https://gitlab.example.test/j/1"}])
def test_ci_token_sync_answers_a_plain_location(repository_and_maintainer, body):
    repository, maintainer = repository_and_maintainer
    actor = Actor.for_user(maintainer, "api")
    _, secret = ci_token_create(actor=actor, repository=repository, name="gitlab-ci")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = api.post(f"/api/v1/repositories/{repository.pk}/sync/", body, format="json")
    assert_location_is_a_plain_run_url(response)
