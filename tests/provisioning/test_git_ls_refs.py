"""The source listing without git (protocol v2 ``ls-refs`` in one POST) gives what ``git ls-remote --symref``
gives, against the real ``git http-backend``; anything else makes it step aside for git, and it connects
nowhere netguard has not checked."""

from __future__ import annotations

import socket

import pytest

from provisioning import netguard
from provisioning.netguard import AddressRefused
from provisioning.forge.base import GitRemote
from provisioning.git import ls_refs
from provisioning.git.ls_refs import list_refs, pkt_line
from provisioning import mirror as mirror_module
from provisioning.netguard import NetworkPolicy
from tests.support.gitrepos import WorkRepo, init_bare
from tests.support.hostile import PlainHttp, Recorder, Redirector, TlsHttp

LOOPBACK = NetworkPolicy(allow_loopback=True)


def _git_listing(remote: GitRemote):
    """What the mirror lists with the fast path switched off: ``git ls-remote --symref``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mirror_module, "list_refs", lambda *args, **kwargs: None)
        return mirror_module._advertised(remote, timeout=60)


@pytest.fixture
def published(tmp_path):
    work = WorkRepo.create(tmp_path / "work")
    first = work.commit("first")
    work.branch("develop")
    work.git("checkout", "-q", "-b", "trunk")
    work.commit("on trunk")
    work.tag("v1.0.0", message="annotated")
    work.tag("light", rev=first)
    bare = init_bare(tmp_path / "external" / "team" / "app.git", branch="trunk")
    work.publish(bare)
    return bare


def test_the_listing_equals_git_ls_remote_for_a_public_source(tmp_path, git_serve, published):
    server = git_serve(tmp_path / "external", public=True)
    remote = GitRemote(f"{server.url}/team/app.git", network=LOOPBACK)
    asked = []
    authorize = server.authorize
    server.authorize = lambda path, user, password: asked.append(path) or authorize(path, user, password)

    listed = list_refs(remote, timeout_seconds=30)

    assert listed is not None and listed == _git_listing(remote)
    branch, head, refs = listed
    assert branch == "trunk" and head == refs["refs/heads/trunk"]
    assert set(refs) == {"refs/heads/main", "refs/heads/develop", "refs/heads/trunk", "refs/tags/v1.0.0",
                         "refs/tags/light"}
    assert len(asked) == 1 + 2  # one request here, two for git's own listing (advertisement + ls-refs)


def test_credentials_go_with_the_one_request_and_a_wrong_token_leaves_it_to_git(tmp_path, git_serve, published,
                                                                                token):
    server = git_serve(tmp_path / "external", read_token=token)
    good = GitRemote(f"{server.url}/team/app.git", "reader", token, network=LOOPBACK)
    assert list_refs(good, timeout_seconds=30) == _git_listing(good)

    wrong = GitRemote(f"{server.url}/team/app.git", "reader", "not-the-token", network=LOOPBACK)
    assert list_refs(wrong, timeout_seconds=30) is None  # 401: git asks, and reports, as before


def test_an_empty_repository_is_left_to_git_which_names_its_unborn_branch(tmp_path, git_serve):
    init_bare(tmp_path / "external" / "team" / "empty.git")
    server = git_serve(tmp_path / "external", public=True)
    remote = GitRemote(f"{server.url}/team/empty.git", network=LOOPBACK)
    assert list_refs(remote, timeout_seconds=30) is None
    assert list_refs(remote, timeout_seconds=30, need_head=False) == (None, None, {})


@pytest.mark.parametrize("server", ["redirect", "not git", "tls"])
def test_what_is_not_a_plain_v2_answer_is_left_to_git(tmp_path, server, token):
    with Recorder() as other_host:
        servers = {"redirect": lambda: Redirector(other_host.url), "not git": PlainHttp,
                   "tls": lambda: TlsHttp(tmp_path)}
        with servers[server]() as answering:
            scheme = "https" if server == "tls" else "http"
            url = f"{answering.url.replace('http://', f'{scheme}://')}/team/app.git"
            assert list_refs(GitRemote(url, "oauth2", token, network=LOOPBACK), timeout_seconds=10) is None
        assert other_host.requests == []  # a redirect is never followed


def test_a_proxy_in_the_environment_leaves_it_to_git(monkeypatch, tmp_path, git_serve, published):
    server = git_serve(tmp_path / "external", public=True)
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert list_refs(GitRemote(f"{server.url}/team/app.git", network=LOOPBACK), timeout_seconds=10) is None


@pytest.fixture
def no_connection(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"connected to {args[0]!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)


def test_a_refused_address_raises_before_anything_connects(no_connection):
    with pytest.raises(AddressRefused):
        list_refs(GitRemote("https://10.1.2.3/team/app.git", network=LOOPBACK), timeout_seconds=5)


def test_a_name_that_resolves_to_a_private_address_raises_before_anything_connects(no_connection, monkeypatch):
    monkeypatch.setattr(netguard, "resolve_host", lambda host, port: ["10.1.2.3"])
    with pytest.raises(AddressRefused):
        list_refs(GitRemote("https://git.example.com/team/app.git", network=NetworkPolicy()), timeout_seconds=5)


def test_it_connects_only_to_the_addresses_netguard_checked(monkeypatch):
    monkeypatch.setattr(netguard, "resolve_host", lambda host, port: ["127.0.0.1"])
    connected = []

    def recording(address, timeout=None, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError("recorded")

    monkeypatch.setattr(socket, "create_connection", recording)
    policy = NetworkPolicy(allow_loopback=True)
    assert list_refs(GitRemote("https://git.example.com:8443/team/app.git", network=policy),
                     timeout_seconds=5) is None
    assert connected == [("127.0.0.1", 8443)]


_SHA = "a" * 40


@pytest.mark.parametrize("body", [
    pkt_line(b"ERR upload-pack: not our ref\n") + b"0000",
    pkt_line(f"{'b' * 64} HEAD symref-target:refs/heads/main\n".encode()) + b"0000",  # SHA-256
    pkt_line(f"{_SHA} refs/pull/1/head\n".encode()) + b"0000",  # not what was asked for
    pkt_line(f"{_SHA} HEAD\n".encode()),  # no flush: cut short
    b"001e# service=git-upload-pack\n0000",  # a v0 advertisement
    b"zzzz",
])
def test_answers_it_was_not_written_for_are_refused(body):
    assert ls_refs._parse(body) is None


def test_symref_and_tags_are_read_as_git_lists_them():
    body = (pkt_line(f"{_SHA} HEAD symref-target:refs/heads/main\n".encode())
            + pkt_line(f"{_SHA} refs/heads/main\n".encode())
            + pkt_line(f"{'c' * 40} refs/tags/v1\n".encode()) + b"0000")
    listing = ls_refs._parse(body)
    assert (listing.head_branch, listing.head_sha) == ("main", _SHA)
    assert listing.refs == {"refs/heads/main": _SHA, "refs/tags/v1": "c" * 40}


@pytest.mark.parametrize("url", ["ssh://git@127.0.0.1/team/app.git", "http://user@127.0.0.1:9/team/app.git",
                                 "http://127.0.0.1:9/team/app.git?x=1", "http://127.0.0.1:99999/team/app.git",
                                 "/srv/git/app.git"])
def test_urls_it_was_not_written_for_are_left_to_git_without_connecting(no_connection, url):
    assert list_refs(GitRemote(url), timeout_seconds=5) is None
