"""A fetch of a few new commits in one request, without ``git fetch``: the console posts protocol v2's
``fetch`` command itself and hands the pack it gets to ``unpack-objects`` or ``index-pack``.

``git fetch`` over HTTP starts three processes before any object is written (git, the ``remote-http``
dispatcher and ``git-remote-http``, which alone costs about 9 ms of CPU to load libcurl) and makes two
requests, the first only for the server's capabilities (``GET info/refs``, two more processes on the
server). The mirror has just listed the source (``ls_refs``) and knows exactly which objects it wants and
which it has, so one POST carries the whole negotiation (``want``s, ``have``s and ``done``).

What git's fetch guarantees is kept: the received objects are checked to connect the new refs to history
the cache already has (``rev-list --objects``, as git's own connectivity check) before any ref moves, and
refs move only to the SHAs the listing gave. Like the other fast paths, anything it was not written for (a
large pack, an error band, an answer it does not understand, a ref name it would not write itself) returns
False and the caller runs ``git fetch``, which then succeeds or fails exactly as before.
"""

from __future__ import annotations

from pathlib import Path

from provisioning.errors import ProvisioningError
from provisioning.forge.base import GitRemote
from provisioning.git.cache_files import write_refs
from provisioning.git.client import GitClient
from provisioning.git.smart_http import SHA1, endpoint_or_git, pkt_line

# Larger fetches go through git fetch, which streams the pack to disk; this one is held in memory.
MAX_PACK_BYTES = 64 * 1024 * 1024
# git's fetch.unpackLimit: fewer objects are written loose, more are kept as a pack.
_UNPACK_LIMIT = 100


def fetch_pack(cache: Path, remote: GitRemote, wanted: dict[str, str], *, have: set[str],
               timeout_seconds: float) -> bool:
    """Fetch the objects of ``wanted`` ({ref: sha}) into ``cache`` and point those refs at them; True when
    done, False when ``git fetch`` must do it (nothing was changed that it would not redo)."""
    if not wanted or not all(SHA1.match(sha) for sha in (*wanted.values(), *have)):
        return False
    endpoint = endpoint_or_git(remote)
    if endpoint is None:
        return False
    body = endpoint.post("git-upload-pack", _request(set(wanted.values()), have), timeout=timeout_seconds,
                         max_response_bytes=MAX_PACK_BYTES + 64 * 1024, headers={"Git-Protocol": "version=2"})
    pack = _packfile(body) if body is not None else None
    if pack is None or len(pack) > MAX_PACK_BYTES:
        return False
    git = GitClient(cache, timeout_seconds=timeout_seconds)
    objects = int.from_bytes(pack[8:12], "big")
    store = ["unpack-objects", "-q"] if objects < _UNPACK_LIMIT else ["index-pack", "--stdin", "--fix-thin"]
    try:
        if git.run(*store, input=pack, check=False).returncode != 0:
            return False
        # git fetch's own check: every object the new refs reach is now here, or is reached from a ref the
        # cache already had. A pack that leaves a hole moves no ref.
        tips = "".join(f"{sha}\n" for sha in sorted(set(wanted.values())))
        if git.run("rev-list", "--objects", "--stdin", "--not", "--all", "--quiet", input=tips,
                   check=False).returncode != 0:
            return False
    except ProvisioningError:
        return False
    return write_refs(cache, wanted)


def _request(wants: set[str], have: set[str]) -> bytes:
    return b"".join((
        pkt_line(b"command=fetch\n"),
        pkt_line(b"agent=git/dso-console\n"),
        b"0001",
        pkt_line(b"thin-pack\n"),
        pkt_line(b"no-progress\n"),
        pkt_line(b"ofs-delta\n"),
        *(pkt_line(b"want %s\n" % sha.encode()) for sha in sorted(wants)),
        *(pkt_line(b"have %s\n" % sha.encode()) for sha in sorted(have)),
        pkt_line(b"done\n"),
        b"0000",
    ))


def _packfile(body: bytes) -> bytes | None:
    """The pack of a ``fetch`` answer sent after ``done``: a ``packfile`` section whose pkt-lines carry the
    pack on side band 1 (2 is progress; 3, an error, makes it no answer), ended by a flush."""
    position = 0
    section = None
    pack = []
    while position + 4 <= len(body):
        try:
            length = int(body[position:position + 4], 16)
        except ValueError:
            return None
        if length == 0:
            data = b"".join(pack)
            return data if section == b"packfile\n" and position + 4 == len(body) and _is_pack(data) else None
        if length < 5 or position + length > len(body):
            return None
        payload = body[position + 4:position + length]
        position += length
        if section is None:
            if payload != b"packfile\n":
                return None  # acknowledgments, shallow-info, an ERR line: not what "done" asks for
            section = payload
        elif payload[0] == 1:
            pack.append(payload[1:])
        elif payload[0] == 3:
            return None
    return None  # no flush: cut short


def _is_pack(data: bytes) -> bool:
    return len(data) >= 32 and data.startswith(b"PACK") and data[4:8] in (b"\0\0\0\2", b"\0\0\0\3")
