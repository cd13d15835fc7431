"""Run git with credentials that never appear in a URL, a command line or a log.

git asks for a username and a password through ``GIT_ASKPASS``; the helper script below answers from two
environment variables that only the git child process sees. Everything else that could prompt or leak is
switched off.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
from pathlib import Path

from provisioning.forge.base import GitRemote

_ASKPASS_SCRIPT = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$DSO_GIT_USERNAME" ;;
  *) printf '%s\\n' "$DSO_GIT_PASSWORD" ;;
esac
"""

_askpass_path: Path | None = None


def askpass_helper() -> Path:
    """Path of the askpass script, written once per process into a private temp folder."""
    global _askpass_path
    if _askpass_path is None or not _askpass_path.exists():
        folder = Path(tempfile.mkdtemp(prefix="dso-askpass-"))
        atexit.register(shutil.rmtree, folder, True)
        script = folder / "askpass.sh"
        script.write_text(_ASKPASS_SCRIPT)
        script.chmod(stat.S_IRWXU)
        _askpass_path = script
    return _askpass_path


def git_environment(remote: GitRemote | None = None, *, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for one git child process talking to ``remote``.

    Credentials are passed only when the remote has some; prompts, credential helpers and the user's
    global configuration are disabled so a run behaves the same on every machine.
    """
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            # An empty credential.helper list stops any helper from storing what askpass answers.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "credential.helper",
            "GIT_CONFIG_VALUE_0": "",
            "LC_ALL": "C",
        }
    )
    env.pop("DSO_GIT_USERNAME", None)
    env.pop("DSO_GIT_PASSWORD", None)
    if remote is not None and remote.has_credentials:
        env["GIT_ASKPASS"] = str(askpass_helper())
        env["DSO_GIT_USERNAME"] = remote.username or "oauth2"
        env["DSO_GIT_PASSWORD"] = remote.password or ""
    else:
        # Without credentials, a server asking for some must fail at once rather than hang on a prompt.
        env["GIT_ASKPASS"] = "/bin/false"
    return env


def redact(text: str, *secrets: str | None) -> str:
    """Remove every secret from ``text`` (git sometimes echoes what it was given)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
