"""The one way provisioning runs git (in the spirit of Argo CD's ``util/git`` client).

A ``GitClient`` is bound to one repository directory and, optionally, one remote. Every command gets the
environment of ``provisioning.git.env`` (askpass bound to the remote's origin, no prompts, no global or
system config, no redirects, protocol allowlist and address pinning for untrusted remotes), a timeout,
and, on failure, one translation into ``provisioning.errors`` (``provisioning.git.errors``). Only commands
that talk to the remote (``remote=True``) get its credentials; everything git prints is redacted.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from provisioning.errors import ProvisioningError, Unreachable
from provisioning.forge.base import GitRemote
from provisioning.git.env import basic_authorization, git_environment, redact
from provisioning.git.errors import translate

DEFAULT_TIMEOUT_SECONDS = 300


def display_url(url: str) -> str:
    """The URL as it may appear in a message: any user-info dropped, just in case a caller put some there."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


class GitClient:
    """git in ``cwd`` (``git_dir`` adds ``--git-dir``), talking to ``remote`` when asked to."""

    def __init__(self, cwd: Path | None = None, *, git_dir: Path | None = None, remote: GitRemote | None = None,
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS):
        self.cwd = Path(cwd) if cwd is not None else None
        self.git_dir = Path(git_dir) if git_dir is not None else None
        self.remote = remote
        self.timeout_seconds = timeout_seconds

    def run(self, *args: str, remote: bool = False, input: bytes | str | None = None,
            env: dict[str, str] | None = None, config: dict[str, str] | None = None,
            check: bool = True, operation: str | None = None,
            max_stdout_bytes: int | None = None) -> GitResult:
        """Run ``git args``; raise the translated error on a non-zero exit unless ``check`` is false.
        ``max_stdout_bytes``: stop git and raise ``OutputTooLarge`` once it has printed more than that."""
        operation = operation or args[0]
        talks = self.remote if remote else None
        full_env = git_environment(talks, extra_config=config)
        full_env.update(env or {})
        argv = ["git", *(["--git-dir", str(self.git_dir)] if self.git_dir is not None else []), *args]
        data = input.encode("utf-8") if isinstance(input, str) else input
        try:
            if max_stdout_bytes is not None:
                proc = self._bounded(argv, full_env, data, max_stdout_bytes, operation)
            else:
                proc = subprocess.run(argv, cwd=self.cwd, env=full_env, input=data, capture_output=True,
                                      timeout=self.timeout_seconds, check=False,
                                      **({} if data is not None else {"stdin": subprocess.DEVNULL}))
        except subprocess.TimeoutExpired:
            where = f" talking to {display_url(talks.url)}" if talks is not None else ""
            raise Unreachable(f"git {operation} timed out after {self.timeout_seconds:g}s{where}") from None
        except OSError as exc:
            raise ProvisioningError(f"cannot run git: {exc.strerror}", code="git_unavailable") from None
        result = GitResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise self.error(result, operation=operation, remote=remote)
        return result

    def _bounded(self, argv: list[str], env: dict[str, str], data: bytes | None, limit: int,
                 operation: str) -> subprocess.CompletedProcess:
        """``subprocess.run`` that reads at most ``limit`` bytes of stdout into memory (a pack, say)."""
        with subprocess.Popen(argv, cwd=self.cwd, env=env, stdin=subprocess.PIPE if data is not None else
                              subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            errors: list[bytes] = []
            helpers = [threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)]
            if data is not None:
                helpers.append(threading.Thread(target=_feed, args=(proc.stdin, data), daemon=True))
            for helper in helpers:
                helper.start()
            deadline = time.monotonic() + self.timeout_seconds
            timer = threading.Timer(self.timeout_seconds, proc.kill)
            timer.start()
            try:
                output = proc.stdout.read(limit + 1)
                if len(output) > limit:
                    proc.kill()
                    raise OutputTooLarge(f"git {operation} printed more than {limit} bytes")
                proc.wait()
            finally:
                timer.cancel()
                for helper in helpers:
                    helper.join()
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(argv, self.timeout_seconds)
            return subprocess.CompletedProcess(argv, proc.returncode, output, b"".join(errors))

    def out(self, *args: str, **kwargs) -> str:
        """stdout of a successful command, as text, stripped."""
        return self.run(*args, **kwargs).text.strip()

    def output(self, result: GitResult) -> str:
        """stdout + stderr of ``result`` with the remote's secret removed."""
        text = (result.stdout + b"\n" + result.stderr).decode("utf-8", "replace")
        if self.remote is None or not self.remote.has_credentials:
            return text
        return redact(text, self.remote.password, basic_authorization(self.remote).removeprefix("Basic "))

    def error(self, result: GitResult, *, operation: str, remote: bool = True) -> ProvisioningError:
        """The translated error for a failed ``result``."""
        talks = self.remote if remote else None
        return translate(self.output(result), returncode=result.returncode, operation=operation,
                         url=display_url(talks.url) if talks is not None else None,
                         untrusted=talks is not None and talks.network is not None)


class OutputTooLarge(ProvisioningError):
    def __init__(self, message: str):
        super().__init__(message, code="git_output_too_large")


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except BrokenPipeError:
        pass  # git stopped reading (it failed, or was stopped): its exit status says why


def parse_refs(output: str) -> dict[str, str]:
    """{ref: sha} from ``ls-remote`` or ``for-each-ref`` output, peeled ``^{}`` entries dropped."""
    refs: dict[str, str] = {}
    for line in output.splitlines():
        sha, _, ref = line.strip().partition("\t") if "\t" in line else line.strip().partition(" ")
        if ref and not ref.endswith("^{}"):
            refs[ref] = sha
    return refs
