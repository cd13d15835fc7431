"""Portal fixtures: signed-in clients and recorded (not executed) task enqueues.

Portal tests check what the portal does: which service it calls and what it renders. The task path is
tested with the real broker elsewhere, so here enqueueing only records the run id.
"""

from __future__ import annotations

import pytest
from django.test import Client

from console.models import Role
from tests.factories import make_member, make_organization, make_project, make_user
from tests.support.enqueue import stand_in


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> dict[str, list[int]]:
    recorded: dict[str, list[int]] = {"sync": [], "provisioning": []}
    stand_in(monkeypatch, "sync", recorded["sync"].append)
    stand_in(monkeypatch, "provisioning", recorded["provisioning"].append)
    return recorded


@pytest.fixture
def user(db):
    return make_user("alice")


@pytest.fixture
def client_for():
    def sign_in(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def owner_project(user):
    """A project in an organization `alice` owns."""
    organization = make_organization("acme", owner=user)
    return make_project(organization, "shop")


@pytest.fixture
def developer_project(db):
    """A project where `dave` is a developer, in an organization someone else owns."""
    dave = make_user("dave")
    project = make_project(make_organization("initech", owner=make_user("ownerx")), "billing")
    make_member(dave, project, Role.DEVELOPER)
    return dave, project
