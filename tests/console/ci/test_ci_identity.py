"""GitLab CI id_tokens: RS256 against the trusted instance's JWKS, then per-repository authorization."""

from __future__ import annotations

import threading
import time

import jwt
import pytest

from console.models import SyncRun, Trigger, TrustedGitLabInstance
from console.services.ci_identity import CiAuthenticationFailed, CiKeysUnavailable, ci_identity_verify
from tests.console.ci.conftest import AUDIENCE, ISSUER, OTHER_ISSUER

pytestmark = pytest.mark.django_db


def sync(api_for, repository, token, **body):
    return api_for(bearer=token).post(f"/api/v1/repositories/{repository.pk}/sync/", body, format="json")


def test_a_good_id_token_syncs_and_the_run_records_the_pipeline(gitlab_instance, repo_a, mint, api_for, enqueued,
                                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = sync(api_for, repo_a, mint(), pipeline_id="666", job_url="https://evil.test/x")
    assert response.status_code == 202, response.content
    run = SyncRun.objects.get(pk=response.json()["id"])
    assert run.trigger == Trigger.CI and run.actor is None
    detail = run.trigger_detail
    assert detail["by"] == "project_path:acme/shop-backend:ref_type:branch:ref:main"
    assert detail["jwt_subject"] == detail["by"]
    assert detail["project_path"] == "acme/shop-backend"
    assert detail["ref"] == "main" and detail["ref_protected"] is True
    # What GitLab signed wins over what the caller says.
    assert detail["pipeline_id"] == "1001"
    assert detail["job_url"] == f"{ISSUER}/acme/shop-backend/-/jobs/5005"
    assert detail["commit_sha"] == "0123456789abcdef0123456789abcdef01234567"
    assert enqueued == [run.pk]


@pytest.mark.parametrize("claims, message", [
    ({"aud": "https://someone-else.test"}, "audience"),
    ({"iss": "https://gitlab.evil.test"}, "not trusted"),
    # The issuer must be exactly the registered URL; GitLab never writes a trailing slash.
    ({"iss": ISSUER + "/"}, "not trusted"),
    # Signed by the instance, but valid for a year: a leaked one would be a long-lived credential.
    ({"exp": int(time.time()) + 365 * 24 * 3600}, "at most 7200 are accepted"),
    ({"iat": int(time.time()) - 3 * 3600, "nbf": int(time.time()) - 3 * 3600}, "at most 7200 are accepted"),
    ({"exp": int(time.time()) - 120, "iat": int(time.time()) - 600, "nbf": int(time.time()) - 600}, "expired"),
    ({"nbf": int(time.time()) + 600}, "not valid yet"),
    ({"iat": int(time.time()) + 600}, "not valid yet"),
    ({"exp": None}, "exp"),
    ({"project_path": None}, "project_path"),
])
def test_tokens_with_bad_claims_are_refused(gitlab_instance, repo_a, mint, api_for, claims, message):
    response = sync(api_for, repo_a, mint(**claims))
    assert response.status_code == 401, response.content
    assert message in response.json()["detail"]
    assert not SyncRun.objects.exists()


def test_a_token_signed_by_another_key_is_refused(gitlab_instance, repo_a, mint, other_key, api_for):
    assert sync(api_for, repo_a, mint(key=other_key)).status_code == 401
    # ... also when it names a kid the instance does not publish.
    assert sync(api_for, repo_a, mint(key=other_key, kid="key-2")).status_code == 401
    assert not SyncRun.objects.exists()


def test_alg_none_and_hmac_tokens_are_refused(gitlab_instance, repo_a, mint, signing_key, api_for):
    from cryptography.hazmat.primitives import serialization

    public_pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = jwt.decode(mint(), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "key-1"})
    # The classic key-confusion attack: HMAC keyed with the public key. PyJWT refuses to even produce it
    # with a PEM key, so build it by hand.
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': 'key-1'}).encode())}.{b64(json.dumps(claims).encode())}"
    confused = f"{signing_input}.{b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())}"
    for token in (unsigned, confused, jwt.encode(claims, "shared-secret-" + "x" * 32, algorithm="HS256", headers={"kid": "key-1"})):
        response = sync(api_for, repo_a, token)
        assert response.status_code == 401, response.content
        assert "RS256" in response.json()["detail"]
    assert not SyncRun.objects.exists()


def test_a_disabled_instance_is_not_trusted(gitlab_instance, repo_a, mint, api_for):
    TrustedGitLabInstance.objects.filter(pk=gitlab_instance.pk).update(enabled=False)
    assert sync(api_for, repo_a, mint()).status_code == 401


def test_a_project_not_allowed_on_the_repository_is_forbidden(gitlab_instance, repo_a, repo_b, mint, api_for):
    response = sync(api_for, repo_a, mint(project_path="acme/other", sub="project_path:acme/other:ref:main"))
    assert response.status_code == 403
    assert response.json()["code"] == "ci_project_not_allowed"
    # A valid token of acme/shop-backend cannot sync a repository that does not list it.
    assert sync(api_for, repo_b, mint()).status_code == 403
    assert not SyncRun.objects.exists()


def test_missing_and_not_allowed_repositories_are_refused_alike(gitlab_instance, repo_a, repo_b, mint, api_for):
    token = mint()
    for action in ["sync/", "images/built/", "image-tags/"]:
        body = {"image": "registry.example.test/x", "tag": "1"}
        ci = api_for(bearer=token)
        other = ci.post(f"/api/v1/repositories/{repo_b.pk}/{action}", body, format="json")
        missing = ci.post(f"/api/v1/repositories/999999/{action}", body, format="json")
        assert other.status_code == missing.status_code == 403, action
        assert other.json()["code"] == missing.json()["code"] == "ci_project_not_allowed"
        assert other.json()["detail"].replace(f"#{repo_b.pk}", "#N") == missing.json()["detail"].replace("#999999", "#N")
        for name in [repo_a.name, repo_b.name, str(repo_b.project)]:
            assert name not in other.json()["detail"]
    assert not SyncRun.objects.exists()


@pytest.fixture
def other_instance(gitlab_instance, jwks):
    """A second trusted GitLab, whose pipelines may have the very same project paths."""
    return TrustedGitLabInstance.objects.create(name="other-gitlab", issuer=OTHER_ISSUER, jwks_url=jwks.url,
                                                audience=AUDIENCE)


def test_a_prefixed_entry_accepts_only_its_instance(other_instance, repo_a, mint, api_for, enqueued):
    repo_a.ci_allowed_project_paths = ["gitlab:acme/shop-backend"]
    repo_a.save()
    wrong = sync(api_for, repo_a, mint(iss=OTHER_ISSUER))
    assert wrong.status_code == 403, wrong.content
    assert wrong.json()["code"] == "ci_project_not_allowed"
    assert "'other-gitlab:acme/shop-backend'" in wrong.json()["detail"]
    assert not SyncRun.objects.exists()
    assert sync(api_for, repo_a, mint()).status_code == 202


def test_a_bare_entry_fails_closed_once_a_second_instance_is_enabled(gitlab_instance, repo_a, mint, api_for,
                                                                      enqueued, jwks):
    assert repo_a.ci_allowed_project_paths == ["acme/shop-backend"]
    other = TrustedGitLabInstance.objects.create(name="other-gitlab", issuer=OTHER_ISSUER, jwks_url=jwks.url,
                                                 audience=AUDIENCE, enabled=False)
    # One instance enabled: the bare path stands for it; the disabled one's tokens are not even verified.
    assert sync(api_for, repo_a, mint(iss=OTHER_ISSUER)).status_code == 401
    assert sync(api_for, repo_a, mint()).status_code == 202
    SyncRun.objects.all().delete()

    TrustedGitLabInstance.objects.filter(pk=other.pk).update(enabled=True)
    for token in (mint(), mint(iss=OTHER_ISSUER)):
        refused = sync(api_for, repo_a, token)
        assert refused.status_code == 403, refused.content
        assert refused.json()["code"] == "ci_project_instance_ambiguous"
        assert "2 GitLab instances are trusted" in refused.json()["detail"]
        assert "must write the entry as" in refused.json()["detail"]
    assert "'gitlab:acme/shop-backend'" in sync(api_for, repo_a, mint()).json()["detail"]
    assert not SyncRun.objects.exists()


def test_allowed_project_entries_are_validated_on_save(other_instance, repo_a, maintainer, api_for):
    from django.test import Client

    url = f"/api/v1/repositories/{repo_a.pk}/ci-settings/"
    api = api_for(maintainer)
    bare = api.patch(url, {"ci_allowed_project_paths": ["acme/app"]}, format="json")
    assert bare.status_code == 400
    assert "2 GitLab instances are trusted" in str(bare.json()["detail"])
    assert "'<instance name>:acme/app'" in str(bare.json()["detail"])
    unknown = api.patch(url, {"ci_allowed_project_paths": ["nope:acme/app"]}, format="json")
    assert unknown.status_code == 400
    assert "no trusted GitLab instance is named 'nope'" in str(unknown.json()["detail"])
    bad_path = api.patch(url, {"ci_allowed_project_paths": ["gitlab:not a path"]}, format="json")
    assert bad_path.status_code == 400
    repo_a.refresh_from_db()
    assert repo_a.ci_allowed_project_paths == ["acme/shop-backend"]
    # The instance name is matched whatever its case and saved as the admin wrote it.
    saved = api.patch(url, {"ci_allowed_project_paths": [" GitLab:/acme/app/ ", "other-gitlab:acme/app"]},
                      format="json")
    assert saved.status_code == 200, saved.content
    assert saved.json()["ci_allowed_project_paths"] == ["gitlab:acme/app", "other-gitlab:acme/app"]
    # The portal form goes through the same service.
    client = Client()
    client.force_login(maintainer)
    portal = client.post(f"/repositories/{repo_a.pk}/ci-settings/", {"cis-ci_allowed_project_paths": "acme/app"})
    assert portal.status_code == 400 and "name the project&#x27;s instance" in portal.content.decode()


def test_unprotected_refs_are_forbidden_unless_the_repository_allows_them(gitlab_instance, repo_a, mint, api_for,
                                                                          enqueued):
    unprotected = mint(ref="feature", ref_protected="false")
    response = sync(api_for, repo_a, unprotected)
    assert response.status_code == 403 and response.json()["code"] == "ci_ref_not_protected"
    assert not SyncRun.objects.exists()
    repo_a.ci_protected_refs_only = False
    repo_a.save()
    assert sync(api_for, repo_a, unprotected).status_code == 202


def test_keys_are_cached_and_refetched_for_an_unknown_kid(gitlab_instance, jwks, mint, other_key, monkeypatch):
    from console.services import ci_identity

    ci_identity_verify(mint())
    ci_identity_verify(mint())
    assert jwks.fetches == 1
    # GitLab rotates: a new key appears; a token signed with it triggers one refetch.
    jwks.keys["key-2"] = other_key
    monkeypatch.setattr(ci_identity, "MIN_REFETCH_SECONDS", 0)
    assert ci_identity_verify(mint(key=other_key, kid="key-2")).project_path == "acme/shop-backend"
    assert jwks.fetches == 2
    # Made-up kids do not hammer the instance while the cache is fresh.
    monkeypatch.setattr(ci_identity, "MIN_REFETCH_SECONDS", 60)
    for _ in range(3):
        with pytest.raises(CiAuthenticationFailed):
            ci_identity_verify(mint(kid="made-up"))
    assert jwks.fetches == 2


def test_an_unreachable_jwks_is_a_503_not_a_blame_on_the_caller(db, repo_a, mint, api_for):
    from tests.support.gitrepos import closed_port

    TrustedGitLabInstance.objects.create(name="down", issuer=ISSUER, audience=AUDIENCE,
                                         jwks_url=f"http://127.0.0.1:{closed_port()}/keys")
    response = sync(api_for, repo_a, mint())
    assert response.status_code == 503
    assert response.json()["code"] == "ci_keys_unavailable"


def test_a_failing_jwks_is_fetched_at_most_once_per_interval(gitlab_instance, jwks, repo_a, mint, api_for,
                                                             monkeypatch):
    """While GitLab's JWKS answers 500, a flood of pipelines costs it one request: concurrent callers wait for
    the one fetch in flight, and later ones get the remembered failure."""
    from console.services import ci_identity

    jwks.status, jwks.delay = 500, 0.3
    errors: list[Exception] = []
    barrier = threading.Barrier(10)

    def verify():
        barrier.wait()
        try:
            ci_identity._signing_key(gitlab_instance, "key-1")
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=verify) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 10 and all(isinstance(error, CiKeysUnavailable) for error in errors)
    assert jwks.fetches == 1
    for _ in range(5):
        response = sync(api_for, repo_a, mint())
        assert response.status_code == 503 and response.json()["code"] == "ci_keys_unavailable"
    assert jwks.fetches == 1

    # Once the interval has passed, the next request tries again, and a recovered GitLab is used at once.
    jwks.status, jwks.delay = 200, 0.0
    monkeypatch.setattr(ci_identity, "FAILURE_MEMORY_SECONDS", 0)
    assert ci_identity_verify(mint()).project_path == "acme/shop-backend"
    assert jwks.fetches == 2


def test_concurrent_first_requests_share_one_jwks_fetch(gitlab_instance, jwks, mint):
    from console.services import ci_identity

    jwks.delay = 0.3
    keys, barrier = [], threading.Barrier(10)

    def verify():
        barrier.wait()
        keys.append(ci_identity._signing_key(gitlab_instance, "key-1"))

    threads = [threading.Thread(target=verify) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 10 and jwks.fetches == 1
