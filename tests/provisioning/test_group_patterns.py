"""Group names ↔ roles (provisioning.group_patterns): what matches, what does not, and patterns refused."""

from __future__ import annotations

import pytest

from provisioning.group_patterns import PatternError, compile_pattern, roles_from_groups

ORG = compile_pattern("dso/{organization}/{role}", project=False)
PROJECT = compile_pattern("dso/{organization}/{project}/{role}", project=True)


@pytest.mark.parametrize("group, expected", [
    ("dso/acme/owner", ("acme", None, "owner")),
    ("/dso/acme/reader", ("acme", None, "reader")),  # Keycloak's full group path
    ("dso/acme/shop/developer", ("acme", "shop", "developer")),
    ("dso/a-b/c-d/maintainer", ("a-b", "c-d", "maintainer")),
])
def test_groups_that_give_a_role(group, expected):
    found = PROJECT.match(group) or ORG.match(group)
    assert (found.organization, found.project, found.role) == expected


@pytest.mark.parametrize("group", [
    "dso/acme/admin", "dso/acme", "dso/Acme/owner", "xdso/acme/owner", "dso/acme/owner/extra/x",
    "dso/acme/shop/owner/", "dso/-acme/owner", "dso/acme/shop/Owner", "dso//owner", "dso/acme/owner\n",
])
def test_groups_that_give_nothing(group):
    assert PROJECT.match(group) is None and ORG.match(group) is None


def test_the_strongest_role_wins_and_other_groups_are_ignored():
    roles = roles_from_groups(["dso/acme/reader", "dso/acme/owner", "dso/acme/developer", "dso/acme/shop/reader",
                               "staff", 42, None], organization_pattern=ORG, project_pattern=PROJECT)
    assert roles == {("acme", None): "owner", ("acme", "shop"): "reader"}


def test_other_pattern_shapes_and_literal_characters():
    keycloak = compile_pattern("k8s.{organization}_{role}", project=False)
    assert keycloak.match("k8s.acme_owner").organization == "acme"
    assert keycloak.match("k8sXacme_owner") is None  # "." is literal, not "any character"
    project = compile_pattern("{role}@{organization}:{project}", project=True)
    assert project.match("reader@acme:shop").project == "shop"


def test_format_gives_the_group_name_argo_cd_roles_use():
    assert PROJECT.format(organization="acme", project="shop", role="developer") == "dso/acme/shop/developer"
    assert ORG.format(organization="acme", role="owner") == "dso/acme/owner"


@pytest.mark.parametrize("text, project, message", [
    ("dso/{organization}", False, "needs {role}"),
    ("dso/{organization}/{role}", True, "needs {project}"),
    ("dso/{org}/{role}", False, "unknown placeholder {org}"),
    ("dso/{organization}/{project}/{role}", False, "unknown placeholder {project}"),
    ("dso/{organization}/{role}/{role}", False, "twice"),
    ("dso/{organization!r}/{role}", False, "unknown placeholder"),
    ("dso/{organization/{role}", False, "not valid"),
])
def test_patterns_that_are_refused(text, project, message):
    with pytest.raises(PatternError, match=message.replace("{", r"\{").replace("}", r"\}")):
        compile_pattern(text, project=project)
