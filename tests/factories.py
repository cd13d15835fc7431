"""Factories that make one object each, with the fewest fields that make it valid."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from console.models import Membership, Organization, Project, Repository, Role

_counter = itertools.count(1)


def make_user(username: str | None = None, *, staff: bool = False, password: str = "pass-word-123"):
    username = username or f"user{next(_counter)}"
    return get_user_model().objects.create_user(username=username, password=password, is_staff=staff)


def make_organization(slug: str | None = None, *, owner=None) -> Organization:
    organization = Organization.objects.create(slug=slug or f"org{next(_counter)}", name="Org")
    if owner is not None:
        Membership.objects.create(user=owner, organization=organization, role=Role.OWNER)
    return organization


def make_project(organization: Organization | None = None, slug: str | None = None, **fields) -> Project:
    organization = organization or make_organization()
    slug = slug or f"proj{next(_counter)}"
    return Project.objects.create(organization=organization, slug=slug, name=slug,
                                  namespace=f"{organization.slug}-{slug}", **fields)


def make_member(user, project: Project, role: str = Role.DEVELOPER) -> Membership:
    return Membership.objects.create(user=user, organization=project.organization, project=project, role=role)


def make_repository(project: Project | None = None, name: str | None = None, **fields) -> Repository:
    project = project or make_project()
    fields.setdefault("external_url", "https://git.example.com/team/app.git")
    return Repository.objects.create(project=project, name=name or f"repo{next(_counter)}", **fields)
