"""netguard: which hosts an untrusted repository URL may reach, resolved, checked and pinned before git runs.

Nothing here resolves an external name: IP literals, ``localhost`` (from /etc/hosts) and a replaced
``resolve_host`` only. The one git process that does connect reaches 127.0.0.2 through the pin.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from provisioning import netguard
from provisioning.errors import Unreachable
from provisioning.forge.base import GitRemote
from provisioning.git.env import git_environment
from provisioning.githttp import GitHttpServer
from provisioning.mirror import ls_remote
from provisioning.netguard import NOT_PUBLIC, AddressRefused, NetworkPolicy, UrlRefused, check_url
from tests.support.gitrepos import TokenAuthorizer, WorkRepo, init_bare

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile_urls.yaml"
HOSTILE = [url for group in YAML(typ="safe").load(CORPUS.read_text(encoding="utf-8")).values() for url in group]
# What the console's policy forbids besides the network itself (see the corpus header).
STRICT = NetworkPolicy.build(forbidden_urls=["https://console.platform.example"],
                             forbidden_any_port_urls=["https://gitlab.platform.example/dso"])
LOOPBACK = NetworkPolicy(allow_loopback=True)


@pytest.fixture
def resolved(monkeypatch) -> dict:
    """Replace the resolver: {"answers": {host: [addresses] or OSError}, "calls": [(host, port)]}."""
    state: dict = {"answers": {}, "calls": []}

    def resolve(host: str, port: int) -> list[str]:
        state["calls"].append((host, port))
        answer = state["answers"].get(host, OSError("no such name"))
        if isinstance(answer, Exception):
            raise answer
        return list(answer)

    monkeypatch.setattr(netguard, "resolve_host", resolve)
    return state


@pytest.fixture
def no_direct_egress(monkeypatch):
    """Belt and braces for tests that must not connect: any git that ran anyway would only reach a closed
    loopback proxy (curl then resolves nothing itself)."""
    for variable in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    for variable in ("http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")


@pytest.mark.parametrize("url", HOSTILE)
def test_every_hostile_url_is_refused_before_anything_resolves(url, resolved):
    with pytest.raises(UrlRefused) as refused:
        check_url(url, STRICT)
    assert refused.value.message and refused.value.code
    with pytest.raises(AddressRefused) as at_connection:
        git_environment(GitRemote(url, "oauth2", "tok-secret", network=STRICT))
    assert at_connection.value.code == "address_not_allowed" and not at_connection.value.transient
    assert resolved["calls"] == []


@pytest.mark.parametrize("url", [
    "https://github.com/team/app.git", "https://gitlab.example.com:8443/group/sub/project.git",
    "https://GitHub.com/Team/App.git", "https://8.8.8.8/team/app.git", "https://[2001:4860:4860::8888]/x.git",
    "https://xn--bcher-kva.example/team/app.git", "https://gitlab.platform.example.org/x.git",
])
def test_public_https_urls_are_accepted(url):
    assert check_url(url, STRICT).scheme == "https"


def test_what_is_accepted_is_said_for_ssh_file_and_garbage():
    """Issue 7: these all used to get "the URL has no host"."""
    for url, why in (("file:///srv/git/app.git", "file:// would read the worker's own disk"),
                     ("git@github.com:team/app.git", "SSH URLs (git@host:path, ssh://) are not supported"),
                     ("ssh://git@github.com/team/app.git", "SSH URLs (git@host:path, ssh://) are not supported"),
                     ("garbage", "SSH URLs (git@host:path, ssh://) are not supported"),
                     ("https:///team/app.git", "the URL has no host")):
        with pytest.raises(UrlRefused) as refused:
            check_url(url, STRICT)
        assert "use an https:// URL such as https://gitlab.example.com/group/project.git" in refused.value.message
        assert why in refused.value.message


def test_loopback_only_with_the_explicit_escape():
    for url in ("http://127.0.0.1:8080/x.git", "https://[::1]:8443/x.git", "http://localhost:8080/x.git"):
        with pytest.raises(UrlRefused):
            check_url(url, NetworkPolicy())
        assert check_url(url, LOOPBACK).port in {8080, 8443}
    # The escape is for loopback only, not for the rest of the internal network nor plain http elsewhere.
    for url in ("https://10.0.0.1/x.git", "http://github.com/x.git", "https://127.1/x.git"):
        with pytest.raises(UrlRefused):
            check_url(url, LOOPBACK)


def test_allowed_internal_hosts_may_be_private_but_never_loopback_or_link_local(resolved):
    policy = NetworkPolicy.build(allowed_internal_hosts=["git.corp", "gitlab", " 10.20.0.0/16 ", ""])
    assert policy.allowed_hosts == {"git.corp", "gitlab"}
    assert policy.allowed_networks == (ipaddress.ip_network("10.20.0.0/16"),)
    assert check_url("https://gitlab/team/app.git", policy).host == "gitlab"
    assert check_url("https://10.20.3.4/team/app.git", policy).address == ipaddress.ip_address("10.20.3.4")
    with pytest.raises(UrlRefused):
        check_url("https://10.21.0.1/team/app.git", policy)

    resolved["answers"]["git.corp"] = ["10.1.2.3", "fd00::7"]
    assert netguard.connection_config("https://git.corp/a.git", policy)[-1] == (
        "http.curloptResolve", "git.corp:443:10.1.2.3,[fd00::7]")
    for bad in (["169.254.169.254"], ["127.0.0.1"], ["10.1.2.3", "0.0.0.0"]):
        resolved["answers"]["git.corp"] = bad
        with pytest.raises(AddressRefused):
            netguard.connection_config("https://git.corp/a.git", policy)


def test_names_are_resolved_checked_and_pinned_at_connection_time(resolved):
    resolved["answers"].update({"git.example.com": ["140.82.121.4", "2606:50c0:8000::154"],
                                "rebind.example.com": ["140.82.121.4", "10.0.0.9"],
                                "meta.example.com": ["::ffff:169.254.169.254"]})
    assert netguard.connection_config("https://git.example.com:8443/a.git", NetworkPolicy()) == [
        ("http.curloptResolve", ""), ("http.curloptResolve", "git.example.com:8443:140.82.121.4,[2606:50c0:8000::154]")]
    for url in ("https://rebind.example.com/a.git", "https://meta.example.com/a.git"):
        with pytest.raises(AddressRefused) as refused:
            netguard.connection_config(url, NetworkPolicy())
        assert str(refused.value) == NOT_PUBLIC
    with pytest.raises(Unreachable) as unresolvable:
        netguard.connection_config("https://nowhere.example.com/a.git", NetworkPolicy())
    # Whether the name does not resolve or resolves somewhere private is not told apart.
    assert str(unresolvable.value) == NOT_PUBLIC
    calls = len(resolved["calls"])
    assert netguard.connection_config("https://140.82.121.4/a.git", NetworkPolicy()) == []
    assert len(resolved["calls"]) == calls  # an IP literal needs no resolving


def test_a_name_resolving_to_a_private_address_is_refused_before_git_runs(resolved, no_direct_egress, tmp_path):
    resolved["answers"]["git.rebind.example"] = ["10.0.0.9"]
    remote = GitRemote("https://git.rebind.example/team/app.git", "oauth2", "tok-rebind", network=NetworkPolicy())
    with pytest.raises(AddressRefused) as refused:
        ls_remote(remote)
    assert str(refused.value) == NOT_PUBLIC and "tok-rebind" not in str(refused.value)
    assert resolved["calls"] == [("git.rebind.example", 443)]


def test_git_connects_to_the_pinned_address_not_to_what_the_name_resolves_to_later(resolved, tmp_path):
    """The check's answer (127.0.0.2) is the one git uses, although /etc/hosts says localhost is 127.0.0.1:
    a DNS answer that changes between check and connection cannot redirect git."""
    work = WorkRepo.create(tmp_path / "work")
    sha = work.commit("first")
    work.publish(init_bare(tmp_path / "srv" / "team" / "app.git"))
    authorizer = TokenAuthorizer(write_token="tok-pin", public=True)
    with GitHttpServer(tmp_path / "srv", authorizer, host="127.0.0.2") as server:
        url = f"http://localhost:{server.port}/team/app.git"
        resolved["answers"]["localhost"] = ["127.0.0.2"]
        assert ls_remote(GitRemote(url, network=LOOPBACK)) == {"refs/heads/main": sha}
        with pytest.raises(Unreachable):
            ls_remote(GitRemote(url))  # unpinned, localhost is 127.0.0.1 where nothing listens on that port


def test_normalized_url_ignores_spelling_only():
    same = {"https://git.example.com/a/app.git", "https://GIT.example.com:443/a/app", "https://git.example.com/a/app/"}
    assert {netguard.normalized_url(u) for u in same} == {"https://git.example.com/a/app"}
    assert netguard.normalized_url("https://git.example.com/b/app.git") != "https://git.example.com/a/app"
    assert netguard.normalized_url("https://git.example.com:8443/a/app") == "https://git.example.com:8443/a/app"


def test_the_askpass_origin_is_what_git_writes_in_its_prompt():
    assert netguard.origin_of("https://Git.Example.com/a/app.git") == "https://git.example.com"
    assert netguard.origin_of("http://127.0.0.1:8001/git/dso/app.git") == "http://127.0.0.1:8001"
    assert netguard.origin_of("https://[::1]:8443/x.git") == "https://[::1]:8443"
    # Trusted remotes need not pass check_url: the internal forge may have a host name like this.
    assert netguard.origin_of("http://gitlab_web:8080/dso/app.git") == "http://gitlab_web:8080"
    assert netguard.origin_of("/srv/git/app.git") == ""
