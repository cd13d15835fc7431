"""A repository token never leaves for whatever host a redirect names, and an untrusted URL's error message
cannot be used to scan ports.

The remote is a real loopback server answering ``302 Location: http://127.0.0.1:<other port>/...``; the
other server challenges for Basic auth and records every Authorization header it receives. Every git
runner (mirror, image tag bump, GitOps delivery) is driven against it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from provisioning.delivery import GitOpsDelivery
from provisioning.errors import ProvisioningError, Unreachable
from provisioning.forge.base import GitRemote
from provisioning.git.env import git_environment
from provisioning.image_tags import DeployConfig, bump_image_tag
from provisioning.mirror import Mirror, ls_remote
from provisioning.netguard import NetworkPolicy
from tests.support.gitrepos import closed_port, init_bare
from tests.support.hostile import Closer, PlainHttp, Recorder, Redirector, TlsHttp

LOOPBACK = NetworkPolicy(allow_loopback=True)  # both servers are on 127.0.0.1


@pytest.fixture
def other_host():
    with Recorder() as recorder:
        yield recorder


@pytest.fixture
def redirecting(other_host):
    with Redirector(other_host.url) as redirector:
        yield redirector


def _assert_redirect_refused(error: ProvisioningError, token: str) -> None:
    assert error.code == "redirect_refused", error
    assert "does not follow redirects" in str(error) and "final https:// URL" in str(error)
    assert token not in str(error)


def test_mirror_refuses_a_redirecting_source_and_the_token_never_arrives(tmp_path, redirecting, other_host, token):
    source = GitRemote(f"{redirecting.url}/team/app.git", "oauth2", token, network=LOOPBACK)
    target_dir = init_bare(tmp_path / "internal" / "app.git")
    with pytest.raises(ProvisioningError) as caught:
        Mirror(tmp_path / "cache").sync(cache_key="app", source=source, target=GitRemote(str(target_dir)))
    _assert_redirect_refused(caught.value, token)
    assert redirecting.requests  # the remote was asked...
    assert other_host.requests == []  # ...and git never went where it pointed


def test_trusted_remotes_do_not_follow_redirects_either(redirecting, other_host, token):
    with pytest.raises(ProvisioningError) as caught:
        ls_remote(GitRemote(f"{redirecting.url}/dso/app.git", "dso-console", token))
    assert caught.value.code == "redirect_refused"
    assert other_host.requests == []


def test_askpass_answers_only_for_the_remote_it_was_created_for(redirecting, other_host, token):
    """Second layer: even a git told to follow redirects gets no credentials for the other host."""
    remote = GitRemote(f"{redirecting.url}/team/app.git", "oauth2", token)
    proc = subprocess.run(["git", "-c", "http.followRedirects=true", "ls-remote", remote.url],
                          env=git_environment(remote), capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert other_host.requests, "git followed the redirect, so the other host was asked"
    assert other_host.authorizations == []
    assert "refusing to answer a prompt for another address" in proc.stderr
    assert token not in proc.stderr + proc.stdout


def test_askpass_still_answers_its_own_remote(other_host, token):
    remote = GitRemote(f"{other_host.url}/team/app.git", "oauth2", token)
    subprocess.run(["git", "ls-remote", remote.url], env=git_environment(remote), capture_output=True, timeout=60)
    assert other_host.authorizations  # its own origin is asked, and answered (then refused by the recorder)


def test_image_tag_bump_refuses_a_redirecting_source(tmp_path, redirecting, other_host, token):
    source = GitRemote(f"{redirecting.url}/team/infra.git", "oauth2", token, network=LOOPBACK)
    with pytest.raises(ProvisioningError) as caught:
        bump_image_tag(source=source, branch="main", config=DeployConfig(kind="helm"), image="registry.example/app",
                       tag="v2", work_dir=tmp_path / "bump", requested_by="alice")
    _assert_redirect_refused(caught.value, token)
    assert other_host.requests == []


def test_delivery_does_not_follow_a_redirecting_platform_remote(tmp_path, redirecting, other_host, token):
    delivery = GitOpsDelivery(GitRemote(f"{redirecting.url}/platform/gitops.git", "dso-console", token),
                              tmp_path / "delivery")
    with pytest.raises(ProvisioningError) as caught:
        delivery.deliver("projects/shop", {"namespace.yaml": "kind: Namespace\n"}, message="deliver")
    assert "302" in str(caught.value) and token not in str(caught.value)
    assert other_host.requests == []


def test_an_untrusted_url_error_tells_no_port_from_another(tmp_path, token):
    """A closed port, a TCP service that hangs up, a plain web server and a TLS server all read the same."""
    with Closer() as closer, PlainHttp() as plain, TlsHttp(tmp_path / "tls") as tls:
        ports = {"closed": closed_port(), "hangs up": closer.port, "plain http": plain.port, "tls": tls.port}
        messages = {}
        for what, port in ports.items():
            url = f"https://127.0.0.1:{port}/team/app.git"
            with pytest.raises(Unreachable) as caught:
                ls_remote(GitRemote(url, "oauth2", token, network=LOOPBACK))
            messages[what] = (caught.value.code, str(caught.value).replace(url, "<url>"))
    assert set(messages.values()) == {("unreachable", "git ls-remote: could not reach the repository at <url>")}, \
        messages


def test_credentials_go_with_the_first_request_to_their_own_origin(other_host, token):
    remote = GitRemote(f"{other_host.url}/team/app.git", "oauth2", token)
    subprocess.run(["git", "ls-remote", remote.url], env=git_environment(remote), capture_output=True, timeout=60)
    first_path, first_authorization = other_host.requests[0]
    assert first_path.startswith("/team/app.git/info/refs")
    assert first_authorization is not None  # no 401 round trip and askpass run before git can authenticate


def test_a_header_for_one_origin_is_not_sent_to_another(other_host, token):
    remote = GitRemote(f"{other_host.url}/team/app.git", "oauth2", token)
    elsewhere = other_host.url.replace("127.0.0.1", "localhost")
    subprocess.run(["git", "ls-remote", f"{elsewhere}/team/app.git"], env=git_environment(remote),
                   capture_output=True, timeout=60)
    assert other_host.requests and other_host.authorizations == []
