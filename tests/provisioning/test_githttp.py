"""GitHttpServer against the real git client over loopback."""

from __future__ import annotations

import base64
import http.client
import logging
import os

import pytest

from provisioning.forge.base import GitRemote
from provisioning.githttp import GitAccess, GitHttpServer, anonymous_read
from tests.support.gitrepos import WorkRepo, git, init_bare, refs


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    init_bare(root / "dso" / "acme" / "app.git")
    return root


def _request(server: GitHttpServer, method: str, path: str, *, auth: tuple[str, str] | None = None,
             headers: dict[str, str] | None = None, body: bytes | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        sent = dict(headers or {})
        if auth:
            sent["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_push_clone_fetch_round_trip(root, tmp_path, work_repo, git_serve, token):
    server = git_serve(root, write_token=token)
    url = f"{server.url}/dso/acme/app.git"
    writer = GitRemote(url, "ci", token)
    first = work_repo.commit("first")
    work_repo.tag("v1", message="release 1")
    work_repo.push(url, remote=writer)
    assert refs(root / "dso/acme/app.git")["refs/heads/main"] == first

    clone = tmp_path / "clone"
    git("clone", "--quiet", url, str(clone), remote=writer)
    assert WorkRepo(clone).sha() == first
    assert "v1" in git("tag", cwd=clone)

    second = work_repo.commit("second")
    work_repo.push(url, remote=writer)
    git("fetch", "--quiet", "origin", cwd=clone, remote=writer)
    assert WorkRepo(clone).sha("origin/main") == second


def test_protocol_v2_is_spoken(root, work_repo, git_serve, token):
    server = git_serve(root, write_token=token)
    status, _, body = _request(server, "GET", "/dso/acme/app.git/info/refs?service=git-upload-pack",
                               auth=("ci", token), headers={"Git-Protocol": "version=2"})
    assert status == 200
    assert b"version 2" in body and b"ls-refs" in body


def test_anonymous_read_serves_clones_but_refuses_pushes(root, tmp_path, work_repo, git_serve):
    init_bare(root / "pub.git")
    with GitHttpServer(root, anonymous_read) as server:
        url = f"{server.url}/pub.git"
        git("clone", "--quiet", url, str(tmp_path / "anon"))  # empty repository, but reachable
        work_repo.commit("one")
        with pytest.raises(AssertionError, match="could not read Username|Authentication failed"):
            work_repo.push(url)
    assert refs(root / "pub.git") == {}


def test_push_with_read_token_is_forbidden_and_writes_nothing(root, work_repo, git_serve, token):
    server = git_serve(root, write_token="other-" + token, read_token=token)
    url = f"{server.url}/dso/acme/app.git"
    work_repo.commit("one")
    with pytest.raises(AssertionError, match="403"):
        work_repo.push(url, remote=GitRemote(url, "argocd", token))
    assert refs(root / "dso/acme/app.git") == {}


def test_wrong_token_ends_in_authentication_failed(root, work_repo, git_serve, token):
    server = git_serve(root, write_token=token)
    url = f"{server.url}/dso/acme/app.git"
    with pytest.raises(AssertionError, match="Authentication failed"):
        git("ls-remote", url, remote=GitRemote(url, "ci", "wrong"))


def test_unauthenticated_request_gets_basic_challenge(root, git_serve, token):
    server = git_serve(root, write_token=token)
    status, headers, _ = _request(server, "GET", "/dso/acme/app.git/info/refs?service=git-upload-pack")
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="DSO Console"'


def test_only_write_access_sets_remote_user(root, git_serve, token):
    # Without REMOTE_USER http-backend itself refuses receive-pack: READ must never be able to push.
    server = git_serve(root, write_token="w-" + token, read_token=token)
    status, _, _ = _request(server, "GET", "/dso/acme/app.git/info/refs?service=git-receive-pack",
                            auth=("argocd", token))
    assert status == 403
    status, _, body = _request(server, "GET", "/dso/acme/app.git/info/refs?service=git-receive-pack",
                               auth=("ci", "w-" + token))
    assert status == 200 and b"report-status" in body


def test_chunked_push_over_one_mebibyte(root, tmp_path, work_repo, git_serve, token):
    server = git_serve(root, write_token=token)
    url = f"{server.url}/dso/acme/app.git"
    # Random bytes do not compress, so the pack really exceeds git's 1 MiB post buffer and goes chunked.
    sha = work_repo.commit("big", files={"blob.bin": os.urandom(3 * 1024 * 1024)})
    work_repo.push(url, remote=GitRemote(url, "ci", token))
    assert refs(root / "dso/acme/app.git")["refs/heads/main"] == sha
    git("clone", "--quiet", url, str(tmp_path / "clone"), remote=GitRemote(url, "ci", token))
    assert (tmp_path / "clone" / "blob.bin").stat().st_size == 3 * 1024 * 1024


def test_chunked_request_body_is_decoded(root, git_serve, token):
    server = git_serve(root, write_token=token)
    body = b"0014command=ls-refs\n0001000csymrefs\n0000"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    auth = "Basic " + base64.b64encode(f"ci:{token}".encode()).decode()
    conn.request("POST", "/dso/acme/app.git/git-upload-pack", body=iter([body[:10], body[10:]]),
                 headers={"Authorization": auth, "Git-Protocol": "version=2",
                          "Content-Type": "application/x-git-upload-pack-request"},
                 encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 200
    assert response.read().endswith(b"0000")  # an empty repository lists no refs, then a flush packet
    conn.close()


@pytest.mark.parametrize(
    "path, statuses",
    [
        ("/dso/../dso/acme/app.git/info/refs?service=git-upload-pack", {400, 404}),
        ("/dso/%2e%2e/dso/acme/app.git/info/refs?service=git-upload-pack", {400, 404}),
        ("//etc/app.git/info/refs?service=git-upload-pack", {400, 404}),
        ("/dso/acme/app.git/objects/info/packs", {404}),
        ("/dso/acme/app.git/config", {404}),
        ("/dso/acme/app/info/refs?service=git-upload-pack", {404}),
    ],
)
def test_traversal_and_non_git_paths_are_rejected(root, git_serve, token, path, statuses):
    server = git_serve(root, write_token=token)
    status, _, _ = _request(server, "GET", path, auth=("ci", token))
    assert status in statuses


def test_symlink_out_of_root_is_not_served(root, tmp_path, git_serve, token):
    outside = init_bare(tmp_path / "outside.git")
    (root / "escape.git").symlink_to(outside)
    server = git_serve(root, write_token=token)
    status, _, _ = _request(server, "GET", "/escape.git/info/refs?service=git-upload-pack",
                            auth=("ci", token))
    assert status == 404


def test_unknown_repository_is_404(root, git_serve, token):
    server = git_serve(root, write_token=token)
    status, _, _ = _request(server, "GET", "/dso/nope.git/info/refs?service=git-upload-pack",
                            auth=("ci", token))
    assert status == 404
    url = f"{server.url}/dso/nope.git"
    with pytest.raises(AssertionError, match="not found"):
        git("ls-remote", url, remote=GitRemote(url, "ci", token))


def test_url_prefix_mounts_under_a_path(root, tmp_path, work_repo, token):
    def authorize(path, user, password):
        return GitAccess.WRITE if password == token else GitAccess.NONE

    with GitHttpServer(root, authorize, url_prefix="/git/") as server:
        assert server.url == f"http://127.0.0.1:{server.port}/git"
        url = f"{server.url}/dso/acme/app.git"
        sha = work_repo.commit("one")
        work_repo.push(url, remote=GitRemote(url, "ci", token))
        assert refs(root / "dso/acme/app.git")["refs/heads/main"] == sha
        status, _, _ = _request(server, "GET", "/dso/acme/app.git/info/refs?service=git-upload-pack",
                                auth=("ci", token))
        assert status == 404


def test_authorizer_sees_path_and_username_and_nothing_is_logged_with_the_token(root, work_repo, git_serve,
                                                                                 token, caplog):
    seen = []

    def authorize(path, user, password):
        seen.append((path, user))
        return GitAccess.WRITE if password == token else GitAccess.NONE

    caplog.set_level(logging.DEBUG, logger="provisioning.githttp")
    with GitHttpServer(root, authorize) as server:
        url = f"{server.url}/dso/acme/app.git"
        work_repo.commit("one")
        work_repo.push(url, remote=GitRemote(url, "ci", token))
    assert ("dso/acme/app.git", "ci") in seen
    assert caplog.records, "requests are logged at debug level"
    assert token not in caplog.text


def test_ipv6_loopback(root, tmp_path, token):
    authorize = lambda path, user, password: GitAccess.READ  # noqa: E731
    try:
        server = GitHttpServer(root, authorize, host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with server:
        assert server.url.startswith("http://[::1]:")
        git("ls-remote", f"{server.url}/dso/acme/app.git")


def test_serve_forever_and_stop_from_another_thread(root):
    import threading

    server = GitHttpServer(root, anonymous_read)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    git("ls-remote", f"{server.url}/dso/acme/app.git")
    server.stop()
    thread.join()


def test_a_failing_authorizer_answers_500_and_keeps_serving(root, token):
    def authorize(path, user, password):
        if path.startswith("dso/"):
            raise RuntimeError("directory lookup failed")
        return GitAccess.READ

    init_bare(root / "other.git")
    with GitHttpServer(root, authorize) as server:
        status, _, _ = _request(server, "GET", "/dso/acme/app.git/info/refs?service=git-upload-pack",
                                auth=("ci", token))
        assert status == 500
        git("ls-remote", f"{server.url}/other.git")
