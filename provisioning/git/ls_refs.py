"""A remote's branches, tags and HEAD in one HTTP request: protocol v2's ``ls-refs``, asked without git.

``git ls-remote`` over smart HTTP starts two processes (git and ``git-remote-http``, which alone costs about
10 ms of CPU to load libcurl and its TLS stack) and makes two requests: the capability advertisement
(``GET info/refs``) and the ``ls-refs`` command (``POST git-upload-pack``). Protocol v2 is stateless over
HTTP, so the command can be posted directly; every sync starts with this listing, so it is the one git
round trip the console does in-process.

It is a fast path, never a second implementation of git's errors: anything but a plain v2 answer (a
redirect, 401, 404, a v0-only server, an ``ERR`` line, a SHA-256 repository, an unborn HEAD, a proxy in the
environment) returns None and the caller asks git, which then fails or succeeds exactly as before. The
same rules as for git apply: an untrusted URL is checked and its addresses resolved, checked and pinned
before anything connects (``provisioning.netguard``), redirects are never followed, and credentials are
sent only to the remote's own origin, in a header that never reaches a log.
"""

from __future__ import annotations

from provisioning.forge.base import GitRemote
from provisioning.git.smart_http import SHA1, endpoint_for, pkt_line

_PREFIXES = ("refs/heads/", "refs/tags/")
_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_REQUEST = b"".join((
    pkt_line(b"command=ls-refs\n"),
    pkt_line(b"agent=git/dso-console\n"),
    b"0001",  # delimiter: the command's arguments follow
    pkt_line(b"symrefs\n"),
    pkt_line(b"ref-prefix HEAD\n"),
    *(pkt_line(b"ref-prefix %s\n" % prefix.encode()) for prefix in _PREFIXES),
    b"0000",
))


class _Listing:
    def __init__(self):
        self.head_branch: str | None = None
        self.head_sha: str | None = None
        self.refs: dict[str, str] = {}


def list_refs(remote: GitRemote, *, timeout_seconds: float,
              need_head: bool = True) -> tuple[str | None, str | None, dict[str, str]] | None:
    """(default branch, sha HEAD points at, {ref: sha} of branches and tags), as ``ls-remote --symref`` gives
    them, or None when git must be asked instead. ``need_head``: a remote without a HEAD (an empty
    repository) is left to git, which reports its unborn default branch."""
    endpoint = endpoint_for(remote)
    if endpoint is None:
        return None
    body = endpoint.post("git-upload-pack", _REQUEST, timeout=timeout_seconds,
                         max_response_bytes=_MAX_RESPONSE_BYTES, headers={"Git-Protocol": "version=2"})
    if body is None:
        return None
    listing = _parse(body)
    if listing is None or (need_head and listing.head_sha is None):
        return None
    return listing.head_branch, listing.head_sha, listing.refs


def _parse(body: bytes) -> _Listing | None:
    """The ls-refs answer: ``<oid> <name>[ symref-target:<ref>]`` pkt-lines, then a flush; None otherwise."""
    listing = _Listing()
    position = 0
    while True:
        length_text = body[position:position + 4]
        try:
            length = int(length_text, 16)
        except ValueError:
            return None
        if length == 0:
            return listing if position + 4 == len(body) else None
        if length < 4 or position + length > len(body):
            return None
        line = body[position + 4:position + length].decode("utf-8", "strict").rstrip("\n")
        position += length
        oid, _, rest = line.partition(" ")
        if not SHA1.match(oid) or not rest:
            return None  # an ERR line, another object format, or not an ls-refs answer
        name, *attributes = rest.split(" ")
        if name == "HEAD":
            listing.head_sha = oid
            for attribute in attributes:
                if attribute.startswith("symref-target:refs/heads/"):
                    listing.head_branch = attribute.removeprefix("symref-target:refs/heads/")
        elif name.startswith(_PREFIXES) and not name.endswith("^{}"):
            listing.refs[name] = oid
        else:
            return None  # a ref outside what was asked for: not the answer this was written for
