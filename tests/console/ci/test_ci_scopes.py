"""What a CI credential may do: a CI token holds the scopes it was created with (sync by default); a GitLab
id_token may sync and report builds, and bump image tags only from a protected ref."""

from __future__ import annotations

import pytest

from console.models import CiToken, SyncRun
from console.models.ci import CiScope
from console.services.actors import Actor
from console.services.ci_identity import ci_identity_verify
from console.services.ci_tokens import CiGrant, ci_token_create
from console.services.errors import DomainError

pytestmark = pytest.mark.django_db


def tokens_url(repository) -> str:
    return f"/api/v1/repositories/{repository.pk}/ci-tokens/"


def create(repository, user, name="gitlab-ci", **fields):
    return ci_token_create(actor=Actor.for_user(user, "api"), repository=repository, name=name, **fields)


def pipeline_calls(api_for, repository, bearer) -> dict[str, object]:
    """The three pipeline endpoints, each with a body that gets past validation."""
    ci = api_for(bearer=bearer)
    base = f"/api/v1/repositories/{repository.pk}"
    return {
        "sync": ci.post(f"{base}/sync/"),
        "report_build": ci.post(f"{base}/images/built/", {"image": "registry.example.test/acme/app", "tag": "1.2"},
                                format="json"),
        "bump": ci.post(f"{base}/image-tags/", {"image": "registry.example.test/acme/app", "tag": "1.2"},
                        format="json"),
    }


def test_new_tokens_sync_only_unless_given_scopes(repo_a, maintainer, api_for):
    api = api_for(maintainer)
    default = api.post(tokens_url(repo_a), {"name": "plain"}, format="json")
    assert default.status_code == 201, default.content
    assert default.json()["scopes"] == ["sync"]
    chosen = api.post(tokens_url(repo_a), {"name": "release", "scopes": ["bump", "report_build", "bump"]},
                      format="json")
    assert chosen.status_code == 201, chosen.content
    assert chosen.json()["scopes"] == ["report_build", "bump"]
    assert CiToken.objects.get(name="release").scopes == ["report_build", "bump"]
    listed = {token["name"]: token["scopes"] for token in api.get(tokens_url(repo_a)).json()}
    assert listed == {"plain": ["sync"], "release": ["report_build", "bump"]}


@pytest.mark.parametrize("scopes, message", [
    (["sync", "deploy"], "unknown scope 'deploy'"),
    (["admin", "write"], "unknown scopes 'admin', 'write'"),
    ([], "at least one scope"),
])
def test_unknown_or_missing_scopes_are_refused(repo_a, maintainer, api_for, scopes, message):
    response = api_for(maintainer).post(tokens_url(repo_a), {"name": "x", "scopes": scopes}, format="json")
    assert response.status_code == 400, response.content
    assert message in str(response.json()["detail"])
    assert "sync, report_build, bump" in str(response.json()["detail"])
    assert not CiToken.objects.exists()
    with pytest.raises(DomainError):
        create(repo_a, maintainer, scopes=scopes)


def test_each_endpoint_needs_its_scope(repo_a, maintainer, api_for, enqueued):
    """A token can do exactly what its scopes say; the refusal names the missing scope."""
    for scope in CiScope.values:
        _, secret = create(repo_a, maintainer, name=f"only-{scope}", scopes=[scope])
        answers = pipeline_calls(api_for, repo_a, secret)
        for endpoint, response in answers.items():
            if endpoint == scope:
                # Past the scope check: sync queues, a report is recorded, a bump of a non-infra repo is invalid.
                assert response.status_code in (201, 202, 400), (scope, endpoint, response.content)
                assert response.json().get("code") != "ci_scope_missing"
            else:
                assert response.status_code == 403, (scope, endpoint, response.content)
                assert response.json()["code"] == "ci_scope_missing"
                assert f"lacks the {endpoint!r} scope" in response.json()["detail"]
    assert SyncRun.objects.count() == 1


def test_id_tokens_sync_and_report_and_bump_only_from_protected_refs(gitlab_instance, repo_a, mint, api_for,
                                                                      enqueued):
    protected = CiGrant.for_identity(ci_identity_verify(mint()))
    unprotected = CiGrant.for_identity(ci_identity_verify(mint(ref="feature", ref_protected="false")))
    assert all(protected.allows(scope) for scope in CiScope.values)
    assert unprotected.allows("sync") and unprotected.allows("report_build")
    assert not unprotected.allows("bump") and not protected.allows("delete")

    # Even where the repository accepts unprotected refs for syncs, they may not bump.
    repo_a.ci_protected_refs_only = False
    repo_a.save()
    answers = pipeline_calls(api_for, repo_a, mint(ref="feature", ref_protected="false"))
    assert answers["sync"].status_code == 202, answers["sync"].content
    assert answers["report_build"].status_code == 201, answers["report_build"].content
    assert answers["bump"].status_code == 403
    assert answers["bump"].json()["code"] == "ci_scope_missing"
    assert "'bump'" in answers["bump"].json()["detail"] and "not protected" in answers["bump"].json()["detail"]
    # A protected ref gets past the scope check (repo_a is no infra repository, so the bump itself is invalid).
    bump = pipeline_calls(api_for, repo_a, mint())["bump"]
    assert bump.status_code == 400 and bump.json()["code"] == "not_infra"
