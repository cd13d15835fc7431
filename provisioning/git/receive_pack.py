"""A push to a smart-HTTP server in one request, without ``git push``: the console posts the ref updates
and a pack that ``git pack-objects`` made to the server's ``git-receive-pack`` service itself.

``git push`` over HTTP starts five processes here (git, the ``remote-http`` dispatcher, ``git-remote-http``,
which alone costs about 9 ms of CPU to load libcurl, ``send-pack`` and ``pack-objects``) and makes two
requests, the first only to learn the target's refs (``GET info/refs``, which starts two more processes on
the server). A mirror already knows the target's refs: it recorded them after its last push. The push
protocol is stateless over HTTP, so the updates can be posted directly, each naming the SHA the console
believes the ref holds; the server refuses an update whose ref moved meanwhile, so a wrong belief can
never overwrite anything.

Like ``ls_refs``, it is a fast path, never a second implementation of git's errors: a server that does not
answer plainly (a redirect, 401, 404, an unexpected body), a failed ``pack-objects``, an ``unpack`` error,
or a ref it refused leaves those refs to ``git push``, which then succeeds or fails exactly as before. What
the server accepted is reported, so the caller pushes only what is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provisioning.errors import ProvisioningError
from provisioning.forge.base import GitRemote
from provisioning.git.client import GitClient
from provisioning.git.smart_http import SHA1, endpoint_or_git, pkt_line

ZERO_SHA = "0" * 40
# Larger packs go through git push, which streams them; this one is held in memory while it is posted.
MAX_PACK_BYTES = 64 * 1024 * 1024
_MAX_RESPONSE_BYTES = 1024 * 1024
# report-status: one status line per ref. No side-band: hook output stays in the server's log, and a
# refused ref is then pushed by git, which relays the hook's message into the run's error.
_CAPABILITIES = b"report-status quiet agent=git/dso-console"


@dataclass(frozen=True)
class RefUpdate:
    ref: str
    old_sha: str | None  # None: the ref is created
    new_sha: str | None  # None: the ref is deleted


def post_push(cache: Path, remote: GitRemote, updates: list[RefUpdate], *, remote_holds: set[str],
              timeout_seconds: float) -> set[str]:
    """Apply ``updates`` to ``remote`` in one request; the refs the server reports it updated.
    ``remote_holds``: the SHAs of every ref the server has (with their history, they need not be sent).

    An empty set says nothing is known to have changed: the request was not sent, or its answer was lost
    or not understood (the server may still have applied it; a push by git then finds those refs up to
    date). Never raises for the server's or git's reasons: the caller's ``git push`` reports those."""
    if not updates or any(not _valid(u) for u in updates):
        return set()
    endpoint = endpoint_or_git(remote)
    if endpoint is None:
        return set()
    pack = b""
    if any(u.new_sha is not None for u in updates):
        pack = _pack(cache, updates, remote_holds, timeout_seconds=timeout_seconds)
        if pack is None:
            return set()
    body = endpoint.post("git-receive-pack", _commands(updates) + pack, timeout=timeout_seconds,
                         max_response_bytes=_MAX_RESPONSE_BYTES)
    if body is None:
        return set()
    return _accepted(body, {u.ref for u in updates})


def _valid(update: RefUpdate) -> bool:
    shas = [sha for sha in (update.old_sha, update.new_sha) if sha is not None]
    return bool(shas) and all(SHA1.match(sha) for sha in shas) and update.ref.startswith(
        ("refs/heads/", "refs/tags/")) and not any(c in update.ref for c in " \0\n")


def _commands(updates: list[RefUpdate]) -> bytes:
    lines = []
    for position, update in enumerate(updates):
        line = f"{update.old_sha or ZERO_SHA} {update.new_sha or ZERO_SHA} {update.ref}".encode()
        lines.append(pkt_line(line + (b"\0" + _CAPABILITIES if position == 0 else b"") + b"\n"))
    return b"".join(lines) + b"0000"


def _pack(cache: Path, updates: list[RefUpdate], remote_holds: set[str], *,
          timeout_seconds: float) -> bytes | None:
    """The objects the new SHAs need that the server's refs do not already reach, as send-pack asks
    pack-objects for them: thin, with offset deltas. A SHA the cache lacks fails it (and git push runs)."""
    wanted = {u.new_sha for u in updates if u.new_sha is not None}
    held = {sha for sha in remote_holds if SHA1.match(sha)} | {u.old_sha for u in updates if u.old_sha}
    revisions = "".join(f"{sha}\n" for sha in sorted(wanted)) + "".join(f"^{sha}\n" for sha in sorted(held))
    try:
        result = GitClient(cache, timeout_seconds=timeout_seconds).run(
            "pack-objects", "--all-progress-implied", "--revs", "--stdout", "--thin", "--delta-base-offset",
            "-q", input=revisions, check=False, max_stdout_bytes=MAX_PACK_BYTES)
    except ProvisioningError:
        return None  # too large to hold (git push streams it), or git could not run
    if result.returncode != 0 or not result.stdout.startswith(b"PACK"):
        return None
    return result.stdout


def _accepted(body: bytes, asked: set[str]) -> set[str]:
    """The ``ok <ref>`` lines of a report-status answer whose ``unpack`` line says ``ok``; empty otherwise."""
    lines = []
    position = 0
    while position < len(body):
        try:
            length = int(body[position:position + 4], 16)
        except ValueError:
            return set()
        if length == 0:
            break
        if length < 4 or position + length > len(body):
            return set()
        lines.append(body[position + 4:position + length].decode("utf-8", "replace").rstrip("\n"))
        position += length
    else:
        return set()  # no flush: cut short
    if not lines or lines[0] != "unpack ok":
        return set()
    accepted = set()
    for line in lines[1:]:
        status, _, ref = line.partition(" ")
        if status == "ok" and ref in asked:
            accepted.add(ref)
    return accepted
