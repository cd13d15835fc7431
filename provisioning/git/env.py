"""Run git with credentials that never appear in a URL, a command line or a log, and never leave for a
host other than the one they were given for.

Credentials go with git's first request as an ``Authorization`` header scoped to the remote's origin
(``http.<origin>/.extraHeader``, in the environment only the git child sees). Should the server still ask,
git asks for a username and a password through ``GIT_ASKPASS``; the helper script below answers from
environment variables that only the git child process sees, and only when git's prompt names the exact
scheme, host and port of the remote (git writes the URL in the prompt: "Username for 'https://host:port': ").
Redirects are never followed: an https remote answering ``302 Location: http://elsewhere/`` would
otherwise make git ask for, and send, the token there. Everything else that could prompt or leak is
switched off. For an untrusted remote (one carrying a ``NetworkPolicy``) the host is resolved and checked
here and curl is pinned to the checked addresses (``provisioning.netguard``).
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import stat
import tempfile
from pathlib import Path

from provisioning.forge.base import GitRemote
from provisioning.netguard import connection_config, origin_of

# "$1" is git's prompt; the URL between the quotes, minus any user@, must be the remote's origin.
_ASKPASS_SCRIPT = """#!/bin/sh
url=${1#*\\'}
url=${url%%\\'*}
scheme=${url%%://*}
rest=${url#*://}
rest=${rest##*@}
asked=$(printf '%s' "$scheme://$rest" | tr '[:upper:]' '[:lower:]')
if [ -z "$DSO_GIT_ORIGIN" ] || [ "$asked" != "$DSO_GIT_ORIGIN" ]; then
  echo "dso-askpass: refusing to answer a prompt for another address" >&2
  exit 1
fi
case "$1" in
  "Username for '"*) printf '%s\\n' "$DSO_GIT_USERNAME" ;;
  "Password for '"*) printf '%s\\n' "$DSO_GIT_PASSWORD" ;;
  *) exit 1 ;;
esac
"""

# Applied to every git process. followRedirects=false: a redirect is an error, never a new destination.
_BASE_CONFIG = (
    # An empty credential.helper list stops any helper from storing what askpass answers.
    ("credential.helper", ""),
    ("http.followRedirects", "false"),
)

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


def git_environment(remote: GitRemote | None = None, *, base: dict[str, str] | None = None,
                    extra_config: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for one git child process talking to ``remote``.

    Credentials are passed only when the remote has some; prompts, credential helpers and the user's
    global configuration are disabled so a run behaves the same on every machine. For a remote with a
    network policy this resolves its host and raises (AddressRefused, Unreachable) before any connection.
    """
    env = dict(os.environ if base is None else base)
    # A run started from inside a git hook or a checkout must not act on that repository.
    for variable in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
        env.pop(variable, None)
    for key in [k for k in env if k.startswith("GIT_CONFIG_KEY_") or k.startswith("GIT_CONFIG_VALUE_")]:
        del env[key]
    config = list(_BASE_CONFIG)
    if remote is not None and remote.network is not None:
        scheme = remote.url.partition("://")[0].lower()
        # An untrusted URL gets its own transport only: no ext::, file:// or other helper a URL can name.
        config += [("protocol.allow", "never")]
        if scheme in {"http", "https"}:
            config += [(f"protocol.{scheme}.allow", "always")]
        config += connection_config(remote.url, remote.network)
    origin = origin_of(remote.url) if remote is not None and remote.has_credentials else ""
    if origin.startswith(("http://", "https://")):
        # Sent with the first request, scoped to the remote's own origin: without it every git process that
        # talks to an authenticated remote is refused once (401), then runs askpass twice (six processes),
        # then asks again. askpass stays for a server that still challenges.
        config += [(f"http.{origin}/.extraHeader", f"Authorization: {basic_authorization(remote)}")]
    config += list((extra_config or {}).items())
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                "LC_ALL": "C", "GIT_CONFIG_COUNT": str(len(config))})
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    for variable in ("DSO_GIT_USERNAME", "DSO_GIT_PASSWORD", "DSO_GIT_ORIGIN"):
        env.pop(variable, None)
    if remote is not None and remote.has_credentials:
        env["GIT_ASKPASS"] = str(askpass_helper())
        env["DSO_GIT_ORIGIN"] = origin_of(remote.url)
        env["DSO_GIT_USERNAME"] = remote.username or "oauth2"
        env["DSO_GIT_PASSWORD"] = remote.password or ""
    else:
        # Without credentials, a server asking for some must fail at once rather than hang on a prompt.
        env["GIT_ASKPASS"] = "/bin/false"
    return env


def basic_authorization(remote: GitRemote) -> str:
    """The ``Authorization`` value for ``remote``'s credentials (askpass answers the same pair)."""
    pair = f"{remote.username or 'oauth2'}:{remote.password or ''}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def redact(text: str, *secrets: str | None) -> str:
    """Remove every secret from ``text`` (git sometimes echoes what it was given)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
