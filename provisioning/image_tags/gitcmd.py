"""git subprocesses for bump, with credentials only in the askpass environment and errors translated."""

from __future__ import annotations

import subprocess
from pathlib import Path

from provisioning.errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    ProvisioningError,
    Unreachable,
)
from provisioning.forge.base import GitRemote
from provisioning.gitenv import git_environment, redact, untrusted_remote_error

_AUTH = ("authentication failed", "could not read username", "could not read password", "401", "publickey")
_DENIED = ("403", "permission denied", "not allowed", "protected branch", "hook declined", "remote rejected")
_MISSING = ("couldn't find remote ref", "does not appear to be a git repository", "repository not found", "404")
_NETWORK = (
    "could not resolve host", "connection refused", "timed out", "failed to connect", "unable to access",
    "hung up", "early eof", "502", "503", "504", "connection reset",
)  # fmt: skip
TIMEOUT_SECONDS = 300


class GitFailed(Exception):
    def __init__(self, output: str):
        super().__init__(output)
        self.output = output


def run_git(
    args: list[str],
    *,
    cwd: Path,
    remote: GitRemote | None = None,
    stdin: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> str:
    """Run git in ``cwd``; return stdout or raise GitFailed with redacted stdout+stderr."""
    env = git_environment(remote)
    env.update(extra_env or {})
    secrets = (remote.password,) if remote is not None else ()
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise Unreachable(f"git {args[0]} took longer than {TIMEOUT_SECONDS}s") from None
    if proc.returncode != 0:
        raise GitFailed(redact(f"{proc.stdout}\n{proc.stderr}".strip(), *secrets))
    return proc.stdout


_HOOK = ("protected branch", "hook declined", "remote rejected", "not allowed")


def translate(exc: GitFailed, *, action: str, url: str, remote: GitRemote | None = None) -> ProvisioningError:
    """A person-readable domain error for a failed git call against ``url``."""
    text = exc.output.lower()
    last = exc.output.strip().splitlines()[-1] if exc.output.strip() else "no output"
    if remote is not None and remote.network is not None:
        # An untrusted URL: only a git server that took the push may be quoted; anything else is worded
        # from a fixed vocabulary so the message cannot describe what listens at that address.
        if any(s in text for s in _HOOK):
            return PermissionDenied(f"{action}: {url} denied the operation ({last})")
        return untrusted_remote_error(exc.output, url=url, action=action)
    if any(s in text for s in _AUTH):
        return AuthenticationFailed(f"{action}: {url} refused the credentials ({last})")
    if any(s in text for s in _MISSING):
        return NotFound(f"{action}: not found at {url} ({last})")
    if any(s in text for s in _DENIED):
        return PermissionDenied(f"{action}: {url} denied the operation ({last})")
    if any(s in text for s in _NETWORK):
        return Unreachable(f"{action}: {url} is unreachable ({last})")
    return ProvisioningError(f"{action} failed for {url}: {last}")
