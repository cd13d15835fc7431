"""The registry client against a real registry on loopback: paginated tag lists, manifest digests, build times,
and the bearer-token challenge answered through a token server; plus the challenge parser and error codes."""

from __future__ import annotations

import datetime as dt

import pytest

from provisioning.errors import AuthenticationFailed, InvalidInput, NotFound, Unreachable
from provisioning.registry import RegistryClient, parse_challenge


def test_tags_are_listed_page_by_page_following_the_link_header(oci_registry):
    from tests.doubles.registry import PaginatingProxy

    for n in range(7):
        oci_registry.push("team/app", f"1.0.{n}")
    assert RegistryClient(oci_registry.url, page_size=3).list_tags("team/app").__len__() == 7  # 2.8: one page
    proxy = PaginatingProxy(oci_registry.url)
    try:
        pages = list(RegistryClient(proxy.url, page_size=3).iter_tag_pages("team/app"))
    finally:
        proxy.stop()
    assert [len(page) for page in pages] == [3, 3, 1]
    assert sorted(tag for page in pages for tag in page) == [f"1.0.{n}" for n in range(7)]


def test_digests_and_build_times_are_read_from_manifests_and_config_blobs(oci_registry):
    built = dt.datetime(2026, 5, 4, 3, 2, 1, tzinfo=dt.timezone.utc)
    pushed = oci_registry.push("team/app", "2.0.0", created=built)
    client = RegistryClient(oci_registry.url)
    assert client.manifest_digest("team/app", "2.0.0") == pushed
    info, _ = client.manifest("team/app", "2.0.0")
    assert info.digest == pushed and info.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert client.created_at("team/app", "2.0.0") == built


def test_missing_image_and_unreachable_registry_have_codes(oci_registry):
    client = RegistryClient(oci_registry.url)
    with pytest.raises(NotFound) as missing:
        client.list_tags("team/nothing")
    assert missing.value.code == "registry_not_found"
    with pytest.raises(InvalidInput):
        client.list_tags("Team/UPPER")
    from tests.support.gitrepos import closed_port

    with pytest.raises(Unreachable) as down:
        RegistryClient(f"http://127.0.0.1:{closed_port()}", timeout=2).ping()
    assert down.value.transient


def test_the_bearer_challenge_is_answered_with_a_token_for_the_scope(oci_registry_token):
    registry = oci_registry_token
    registry.push("team/app", "1.4.2")
    registry.issuer.users["robot"] = "s3cret-token"
    client = RegistryClient(registry.url, username="robot", password="s3cret-token")
    assert client.list_tags("team/app") == ["1.4.2"]
    assert client.manifest_digest("team/app", "1.4.2").startswith("sha256:")
    asked = [r for r in registry.issuer.requests if r["user"] == "robot"]
    # One token per scope, reused for the manifest after the tag list.
    assert asked == [{"service": "dso-test-registry", "scope": "repository:team/app:pull", "user": "robot"}]


def test_wrong_credentials_are_refused_with_a_clear_code(oci_registry_token):
    registry = oci_registry_token
    registry.push("team/app", "1.4.2")
    registry.issuer.users["robot"] = "right"
    with pytest.raises(AuthenticationFailed) as refused:
        RegistryClient(registry.url, username="robot", password="wrong").list_tags("team/app")
    assert refused.value.code == "registry_auth_failed"
    assert "wrong" not in refused.value.message


def test_challenge_parsing():
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                      "scope": "repository:library/nginx:pull"}
    assert parse_challenge('Basic realm="Harbor"') == ("basic", {"realm": "Harbor"})
