"""Real git repositories for tests: working copies with commits, branches and tags, bare repos, serving.

Everything runs the real git binary with an isolated configuration, so a developer's ~/.gitconfig (signing,
hooks, default branch) cannot change what a test sees.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from provisioning.forge.base import GitRemote
from provisioning.git.env import git_environment
from provisioning.githttp import GitAccess, GitHttpServer

_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.test",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.test",
}


def git(*args: str, cwd: Path | None = None, remote: GitRemote | None = None, check: bool = True) -> str:
    """Run git like production code does (provisioning.git.env), plus a fixed identity; return stdout."""
    env = git_environment(remote)
    env.update(_IDENTITY)
    for variable in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(variable, None)
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


def init_bare(path: Path, *, branch: str = "main") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    git("init", "--bare", "--quiet", f"--initial-branch={branch}", str(path))
    return path


def refs(repo: Path) -> dict[str, str]:
    """{ref: sha} of the branches and tags of a local repository (bare or not)."""
    out = git("for-each-ref", "--format=%(objectname) %(refname)", "refs/heads", "refs/tags", cwd=repo)
    return {ref: sha for sha, ref in (line.split(" ", 1) for line in out.splitlines())}


def head_branch(repo: Path) -> str:
    return git("symbolic-ref", "HEAD", cwd=repo).strip().removeprefix("refs/heads/")


@dataclass
class WorkRepo:
    """A non-bare working repository to make history in."""

    path: Path

    @classmethod
    def create(cls, path: Path, *, branch: str = "main") -> WorkRepo:
        path.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", f"--initial-branch={branch}", str(path))
        return cls(path)

    def git(self, *args: str, remote: GitRemote | None = None) -> str:
        return git(*args, cwd=self.path, remote=remote)

    def commit(self, message: str = "change", files: dict[str, str | bytes] | None = None) -> str:
        for name, content in (files or {f"{message.replace(' ', '-')}.txt": message + "\n"}).items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.sha("HEAD")

    def commits(self, count: int, prefix: str = "commit") -> str:
        sha = ""
        for n in range(count):
            sha = self.commit(f"{prefix} {n}")
        return sha

    def sha(self, rev: str = "HEAD") -> str:
        return self.git("rev-parse", rev).strip()

    def branch(self, name: str, start: str = "HEAD") -> None:
        self.git("branch", "--force", name, start)

    def checkout(self, name: str, *, create: bool = False) -> None:
        self.git("checkout", "--quiet", *(["-b"] if create else []), name)

    def tag(self, name: str, rev: str = "HEAD", *, message: str | None = None) -> None:
        """Lightweight tag, or annotated when ``message`` is given."""
        self.git("tag", "--force", *(["-a", "-m", message] if message else []), name, rev)

    def delete_branch(self, name: str) -> None:
        self.git("branch", "--quiet", "-D", name)

    def delete_tag(self, name: str) -> None:
        self.git("tag", "--delete", name)

    def reset_hard(self, rev: str) -> None:
        self.git("reset", "--quiet", "--hard", rev)

    def push(self, url: str | Path, *refspecs: str, remote: GitRemote | None = None,
             prune: bool = False) -> str:
        """Push to a bare path or URL; by default every branch and tag, forced, like a mirror would."""
        specs = refspecs or ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
        return self.git("push", "--quiet", *(["--prune"] if prune else []), str(url), *specs, remote=remote)

    def publish(self, bare: Path, *refspecs: str) -> None:
        """Make ``bare`` hold exactly this repository's branches and tags (pruning the rest)."""
        self.push(bare, *refspecs, prune=True)


class TokenAuthorizer:
    """One write token and optional read token; ``public`` grants READ to anyone, as a public forge does."""

    def __init__(self, *, write_token: str | None = None, read_token: str | None = None,
                 public: bool = False):
        self.write_token = write_token
        self.read_token = read_token
        self.public = public
        self.calls: list[tuple[str, str | None]] = []  # (repo path, username): never the password

    def __call__(self, repo_path: str, username: str | None, password: str | None) -> GitAccess:
        self.calls.append((repo_path, username))
        if password and self.write_token and hmac.compare_digest(password, self.write_token):
            return GitAccess.WRITE
        if password and self.read_token and hmac.compare_digest(password, self.read_token):
            return GitAccess.READ
        return GitAccess.READ if self.public else GitAccess.NONE


@contextlib.contextmanager
def serve(root: Path, *, write_token: str | None = None, read_token: str | None = None, public: bool = False,
          url_prefix: str = "") -> Iterator[GitHttpServer]:
    """Serve every bare repository under ``root`` on loopback for the duration of the block."""
    authorizer = TokenAuthorizer(write_token=write_token, read_token=read_token, public=public)
    server = GitHttpServer(root, authorizer, url_prefix=url_prefix)
    with server:
        yield server


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released, so connecting is refused)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def grep_tree(root: Path, needle: str) -> list[Path]:
    """Every file below ``root`` whose bytes contain ``needle`` (to prove a secret was never stored)."""
    found = []
    encoded = needle.encode()
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            with contextlib.suppress(OSError):
                if encoded in path.read_bytes():
                    found.append(path)
    return found
