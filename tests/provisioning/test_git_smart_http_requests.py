"""The console's own push and fetch requests: what they send, and which answers they take (anything else is
left to git, tests/provisioning/test_mirror_fast_path.py)."""

from __future__ import annotations

import pytest

from provisioning.forge.base import GitRemote
from provisioning.git import receive_pack
from provisioning.git.receive_pack import RefUpdate, post_push
from provisioning.git.smart_http import endpoint_for, pkt_line

_OLD, _NEW = "a" * 40, "b" * 40


def test_the_first_command_carries_the_capabilities_and_deletions_and_creations_name_the_zero_sha():
    body = receive_pack._commands([RefUpdate("refs/heads/main", _OLD, _NEW), RefUpdate("refs/tags/v1", None, _NEW),
                                   RefUpdate("refs/heads/gone", _OLD, None)])

    assert body == (
        pkt_line(f"{_OLD} {_NEW} refs/heads/main\0report-status quiet agent=git/dso-console\n".encode())
        + pkt_line(f"{'0' * 40} {_NEW} refs/tags/v1\n".encode())
        + pkt_line(f"{_OLD} {'0' * 40} refs/heads/gone\n".encode())
        + b"0000")


@pytest.mark.parametrize("body, accepted", [
    (pkt_line(b"unpack ok\n") + pkt_line(b"ok refs/heads/main\n") + b"0000", {"refs/heads/main"}),
    (pkt_line(b"unpack ok\n") + pkt_line(b"ng refs/heads/main failed to update ref\n")
     + pkt_line(b"ok refs/tags/v1\n") + b"0000", {"refs/tags/v1"}),
    (pkt_line(b"unpack index-pack abnormal exit\n") + pkt_line(b"ok refs/heads/main\n") + b"0000", set()),
    (pkt_line(b"unpack ok\n") + pkt_line(b"ok refs/heads/main\n"), set()),  # no flush: cut short
    (pkt_line(b"unpack ok\n") + pkt_line(b"ok refs/heads/other\n") + b"0000", set()),  # not asked for
    (b"<html>not a git server</html>", set()),
    (b"", set()),
])
def test_only_refs_reported_ok_after_a_good_unpack_count_as_applied(body, accepted):
    assert receive_pack._accepted(body, {"refs/heads/main", "refs/tags/v1"}) == accepted


@pytest.mark.parametrize("update", [
    RefUpdate("refs/heads/main", None, None),
    RefUpdate("refs/heads/main", _OLD, "c" * 64),  # SHA-256: the request names no object format
    RefUpdate("refs/pull/1/head", None, _NEW),
    RefUpdate("refs/heads/a b", None, _NEW),
])
def test_an_update_it_was_not_written_for_is_never_sent(tmp_path, update, monkeypatch):
    def never(remote):
        raise AssertionError("an update it was not written for reached the request")

    monkeypatch.setattr(receive_pack, "endpoint_or_git", never)
    remote = GitRemote("http://127.0.0.1:9/never-contacted.git")
    assert post_push(tmp_path, remote, [update], remote_holds=set(), timeout_seconds=5) == set()


@pytest.mark.parametrize("url", ["ssh://git@127.0.0.1/repo.git", "http://user@127.0.0.1:9/repo.git", "/srv/repo.git",
                                 "http://127.0.0.1:9/repo.git?x=1", "ftp://127.0.0.1/repo.git"])
def test_a_url_git_must_handle_has_no_endpoint_and_is_left_to_git(tmp_path, url):
    assert endpoint_for(GitRemote(url)) is None
    update = RefUpdate("refs/heads/main", None, _NEW)
    assert post_push(tmp_path, GitRemote(url), [update], remote_holds=set(), timeout_seconds=5) == set()


def test_a_plain_http_url_has_an_endpoint_with_the_credentials_for_its_origin_only():
    endpoint = endpoint_for(GitRemote("http://127.0.0.1:9/team/app.git/", "bot", "s3cret"))
    assert (endpoint.host, endpoint.port, endpoint.tls, endpoint.path) == ("127.0.0.1", 9, False, "/team/app.git")
    assert endpoint.authorization.startswith("Basic ") and "s3cret" not in endpoint.authorization


_EMPTY_PACK = b"PACK\0\0\0\2\0\0\0\0" + bytes(20)


@pytest.mark.parametrize("body, pack", [
    (pkt_line(b"packfile\n") + pkt_line(b"\2progress\n") + pkt_line(b"\1" + _EMPTY_PACK[:10])
     + pkt_line(b"\1" + _EMPTY_PACK[10:]) + b"0000", _EMPTY_PACK),
    (pkt_line(b"packfile\n") + pkt_line(b"\1" + _EMPTY_PACK) + pkt_line(b"\3upload-pack: fatal\n") + b"0000", None),
    (pkt_line(b"acknowledgments\n") + pkt_line(b"NAK\n") + b"0001", None),  # not the answer to "done"
    (pkt_line(b"ERR upload-pack: not our ref\n") + b"0000", None),
    (pkt_line(b"packfile\n") + pkt_line(b"\1" + _EMPTY_PACK), None),  # no flush: cut short
    (pkt_line(b"packfile\n") + pkt_line(b"\1not a pack at all, but long enough to look like one") + b"0000", None),
])
def test_the_fetch_answer_gives_its_pack_only_when_whole_and_without_an_error_band(body, pack):
    from provisioning.git import upload_pack

    assert upload_pack._packfile(body) == pack


def test_git_output_past_its_bound_stops_git_and_raises_instead_of_filling_memory(tmp_path):
    from provisioning.git.client import GitClient, OutputTooLarge
    from tests.support.gitrepos import WorkRepo

    work = WorkRepo.create(tmp_path / "work")
    work.commit("big", {"blob.bin": "x" * 200_000})
    client = GitClient(work.path, timeout_seconds=30)

    with pytest.raises(OutputTooLarge):
        client.run("cat-file", "-p", "HEAD:blob.bin", max_stdout_bytes=100_000)
    assert client.run("cat-file", "-p", "HEAD:blob.bin", max_stdout_bytes=300_000).stdout == b"x" * 200_000
    revisions = client.run("rev-list", "--stdin", input="HEAD\n", max_stdout_bytes=1_000).text.split()
    assert revisions == [work.git("rev-parse", "HEAD").strip()]
