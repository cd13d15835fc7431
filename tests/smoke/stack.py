"""The embedded stack started the way `make run` starts it: the Makefile's `run` recipe, line by line, as
subprocesses with their own free ports and data folder, and stopped the way Ctrl-C stops it."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60
# Variables of the caller that would turn the embedded defaults into something else (`make test` sets the
# first two to PostgreSQL and Redis; `make run` never sees them).
FOREIGN_ENV = re.compile(r"^(DSO_|DATABASE_URL$|CELERY_|DJANGO_SETTINGS_MODULE$|.*_proxy$|.*_PROXY$)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not FOREIGN_ENV.match(k)}
    env.update(extra)
    return env


def makefile_run_recipe() -> list[list[str]]:
    """The `run` target's commands as argv lists, with the Makefile's variables substituted: the test starts
    what the Makefile starts, so a change there is a change here."""
    text = (REPO / "Makefile").read_text()
    variables = dict(re.findall(r"^([A-Z_]+) *:?= *(.*)$", text, re.M))
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", text, re.M)
    assert recipe, "the Makefile has no `run` target"
    commands = []
    for line in recipe.group(1).splitlines():
        line = re.sub(r"\$\(BIN\)/python", sys.executable, line.strip())
        line = re.sub(r"\$\(([A-Z_]+)\)", lambda m: variables[m.group(1)], line)
        commands.append(shlex.split(line))
    return commands


def split_assignments(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    env = {}
    while argv and re.match(r"^[A-Z_][A-Z0-9_]*=", argv[0]):
        name, _, value = argv[0].partition("=")
        env[name] = value
        argv = argv[1:]
    return env, argv


def _descendants(pid: int) -> list[int]:
    """Processes below `pid` (Linux /proc): the children run in sessions of their own, so only their
    parentage says they are ours."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found.extend(children)
        frontier.extend(children)
    return found


class EmbeddedStack:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.port, forge_port, demo_port = free_port(), free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / "run_embedded.log"
        self.env = clean_environment(
            DSO_DATA_DIR=str(data_dir),
            DSO_EMBEDDED_ADDR=f"127.0.0.1:{self.port}",
            DSO_PUBLIC_URL=self.base_url,
            DSO_LOCAL_FORGE_URL=f"http://127.0.0.1:{forge_port}/git",
            DSO_DEMO_EXTERNAL_PORT=str(demo_port),
            PYTHONUNBUFFERED="1",
        )
        self.process: subprocess.Popen | None = None
        self.children: list[int] = []

    def start(self) -> None:
        *setup, serve = makefile_run_recipe()
        for argv in setup:  # migrate, demo_seed
            assignments, argv = split_assignments(argv)
            done = subprocess.run(argv, cwd=REPO, env={**self.env, **assignments}, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, f"{shlex.join(argv)} failed:\n{done.stdout}\n{done.stderr}"
        assignments, argv = split_assignments(serve)
        self.env.update(assignments)
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(argv, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_until_ready()
        self.children = _descendants(self.process.pid)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"run_embedded exited early:\n{self.output()}"
            if re.search(r"embedded@\S+ ready\.", self.output()) and self._portal_answers():
                return
            time.sleep(0.3)
        raise AssertionError(f"the embedded stack did not become ready:\n{self.output()[-4000:]}")

    def _portal_answers(self) -> bool:
        try:
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                    f"{self.base_url}/accounts/login/", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def interrupt(self, timeout: float = 40) -> int:
        """Ctrl-C: SIGINT to run_embedded alone (a terminal sends it to the foreground group, which the
        children, in sessions of their own, are not part of)."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.kill_leftovers()

    def leftovers(self) -> list[int]:
        """Children still running; a pid counts only while its environment still names our data folder, so
        a pid reused by someone else's process is never touched."""
        marker = f"DSO_DATA_DIR={self.data_dir}".encode()
        alive = []
        for pid in self.children:
            try:
                if marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    alive.append(pid)
            except OSError:
                continue
        return alive

    def kill_leftovers(self) -> None:
        """Whatever happened, no process of ours outlives the test."""
        if self.process is not None and self.process.poll() is None:
            self.children = sorted(set(self.children) | set(_descendants(self.process.pid)))
            self.process.kill()
            self.process.wait()
        for pid in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if getattr(self, "_log", None):
            self._log.close()
