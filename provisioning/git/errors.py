"""The one translation of a failed git command into a ``provisioning.errors`` error.

git's output mixes two voices: its own messages (``fatal: ...``, ``error: ...``, the ref status lines of
a push) and whatever the server sends, which git prints after ``remote:``. Only git's own words are
classified; the server's words are quoted at most. A pre-receive hook that prints "release-4011" is thus
a hook rejection, never "the credentials were refused". Markers are whole phrases of git's messages
(``the requested url returned error: 401``), never bare status digits.

The ref status lines of a push (``! [rejected] ...``, ``! [remote rejected] ...``; porcelain puts ``!`` in
the first column too) say why one ref was refused: a branch that moved since our fetch, or a hook/policy
on the server. Both only happen once the server accepted the connection and the credentials.
"""

from __future__ import annotations

from provisioning.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    ProvisioningError,
    Unreachable,
)

# Code of the Conflict raised for a push refused because the branch moved: callers rebuild and retry.
BRANCH_MOVED = "branch_moved"

# Ref status reasons meaning "someone else updated the branch first" (seen before sending, or lost in
# the server's compare-and-swap).
_MOVED = ("(fetch first)", "(non-fast-forward)", "(stale info)", "cannot lock ref", "failed to update ref",
          "incorrect old value")
_REDIRECT = ("the requested url returned error: 30",)
_AUTH = ("authentication failed for", "could not read username", "could not read password",
         "the requested url returned error: 401", "permission denied (publickey")
_DENIED = ("the requested url returned error: 403",)
_MISSING = ("the requested url returned error: 404", "repository not found", "' not found",
            "does not appear to be a git repository")
_UNREACHABLE = (
    "could not resolve host", "failed to connect", "couldn't connect", "connection refused",
    "connection reset", "timed out", "empty reply from server", "recv failure", "network is unreachable",
    "the requested url returned error: 5", "remote end hung up", "early eof", "ssl_connect",
    "ssl connection", "unable to access",
)  # fmt: skip
_TAIL_LINES = 5
_TAIL_CHARS = 500


def tail(output: str) -> str:
    """The last lines of git's output, hints dropped, on one line: enough for a person to act on."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip() and not line.startswith("hint:")]
    return " ".join(lines[-_TAIL_LINES:])[-_TAIL_CHARS:] or "no output"


def _own_words(output: str) -> str:
    return "\n".join(line for line in output.splitlines() if not line.lstrip().startswith("remote:")).lower()


def _ref_status_lines(own: str) -> list[str]:
    return [line for line in own.splitlines() if line.lstrip().startswith("!")]


def translate(output: str, *, returncode: int, operation: str, url: str | None = None,
              untrusted: bool = False) -> ProvisioningError:
    """The error for a git ``operation`` that exited with ``returncode`` printing ``output`` (redacted).

    ``url`` is the remote's display URL (None for a local command). For an ``untrusted`` remote only what
    a git server that took the push said may be quoted; anything else is worded from a fixed vocabulary, so
    the message cannot describe what listens at that address (closed port, plain HTTP, TLS ...).
    """
    own = _own_words(output)
    where = url or "the local repository"
    if url is None:
        return ProvisioningError(f"git {operation} failed: {tail(output)}", code="git_failed")
    refused = _ref_status_lines(own)
    # A refused ref is reported with exit status 1 (fatal transport errors exit 128).
    if returncode == 1 and refused:
        if any(marker in line for line in refused for marker in _MOVED):
            return Conflict(f"{url} moved while pushing: {tail(output)}", code=BRANCH_MOVED, transient=True)
        return PermissionDenied(f"{url} rejected the push: {tail(output)}")
    if any(marker in own for marker in _REDIRECT):
        return ProvisioningError(
            f"git {operation}: {url} answered with a redirect, and DSO Console does not follow redirects (they "
            "could send the token elsewhere): register the repository's final https:// URL"
            + ("" if untrusted else f" ({tail(output)})"), code="redirect_refused")
    if any(marker in own for marker in _AUTH):
        return AuthenticationFailed(f"authentication failed for {url}: check the username and token")
    if any(marker in own for marker in _DENIED):
        return PermissionDenied(f"access to {url} was refused: the token lacks the needed permission")
    if any(marker in own for marker in _MISSING):
        return NotFound(f"repository {url} was not found (or the token cannot see it)")
    if "couldn't find remote ref" in own:
        return NotFound(f"git {operation}: {url} has no such branch")
    if untrusted:
        return Unreachable(f"git {operation}: could not reach the repository at {where}")
    if any(marker in own for marker in _UNREACHABLE):
        return Unreachable(f"git {operation}: cannot reach {url}: {tail(output)}")
    return ProvisioningError(f"git {operation} failed for {url}: {tail(output)}", code="git_failed")
