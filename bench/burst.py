"""20 repositories triggered at once, trigger → mirrored, against the stack as production starts it.

`deploy/entrypoint.sh web` (gunicorn with `deploy/gunicorn.conf.py`, serving `console.wsgi`) and
`deploy/entrypoint.sh worker` (a Celery worker with the shipped concurrency) on PostgreSQL (a database of
its own, dropped and re-created) and Redis, `manage.py forge_serve` (the local forge), and REPOS external
repositories served by `git http-backend` on loopback. The repositories are registered through the REST
API with a token (README); then, ROUNDS times, every repository gets a new commit and its sync is
triggered by REPOS threads released at once (after one warm-up round) (`POST /api/v1/repositories/{id}/sync/`, real HTTP). Each run
is polled until it ends; it must end `succeeded` with the new commit as its head.

Figures per trigger: trigger → 202 (the API's answer) and trigger → mirrored (the run's `finished_at`, the
moment the worker recorded the push done; same host, same clock), split by the run's own timestamps into
waiting for a pool process (queued → started) and the sync itself (started → finished).

    .venv/bin/python bench/run.py --only burst [--burst-rounds 3] [--burst-repos 20]
                                  [--burst-concurrency N] [--burst-web-workers N]
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 1000.0
FINISHED = {"succeeded", "no_change", "failed"}
POLL_SECONDS = 1.0  # as the portal polls a running sync (console/static/console/portal.js)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], fraction: float) -> float:
    """As bench/scale.py takes it: p95 of 60 samples is the 57th smallest."""
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * fraction) - 1)]


def _database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


class Stack:
    """The console's processes, each in a session of its own so that stopping it stops its children."""

    def __init__(self, folder: Path, env: dict[str, str]):
        self.folder = folder
        self.env = env
        self.processes: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str]) -> None:
        log = (self.folder / f"{name}.log").open("w")
        self.processes.append((name, subprocess.Popen(argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                                      stdout=log, stderr=subprocess.STDOUT,
                                                      start_new_session=True)))

    def check(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}):\n"
                                   + (self.folder / f"{name}.log").read_text()[-3000:])

    def stop(self) -> None:
        for _, process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each process of the stack with its children (a git process counts in
        the process that waited for it; "<name>: children (git)" is that share alone), by this bench (the
        external repositories' `git http-backend` and the 20 clients), and by PostgreSQL's processes."""
        used = {name: 0.0 for name, _ in self.processes}
        used["postgresql"] = 0.0
        groups = {process.pid: name for name, process in self.processes}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/comm") as comm:
                    command = comm.read().strip()
            except OSError:
                continue  # ended meanwhile: its time is in its parent's
            own = int(fields[11]) + int(fields[12])  # utime, stime
            waited = int(fields[13]) + int(fields[14])  # cutime, cstime: children it waited for (git)
            # The stack's own processes (the Celery main process, gunicorn's master) and their children.
            name = (groups.get(int(entry)) or groups.get(int(fields[2]))
                    or ("postgresql" if command.startswith("postgres") else None))
            if name:
                used[name] += (own + waited) / _TICKS
                if name != "postgresql":
                    key = f"{name}: children (git)"
                    used[key] = used.get(key, 0.0) + waited / _TICKS
        mine = os.times()
        used["bench (external git, clients)"] = mine.user + mine.system + mine.children_user + mine.children_system
        return used


_TICKS = os.sysconf("SC_CLK_TCK")


def _wait(predicate, *, timeout: float, what: str, stack: Stack, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check()
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what}")


def _up(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _parse_time(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def run(*, database: str, broker: str, rounds: int = 3, repos: int = 20, concurrency: int | None = None,
        web_workers: int | None = None, web_threads: int | None = None) -> dict:
    sys.path.insert(0, str(ROOT))
    from tests.support.gitrepos import WorkRepo, init_bare, serve

    _database(database)
    folder = Path(tempfile.mkdtemp(prefix="dso-burst-"))
    web_port, forge_port = _free_port(), _free_port()
    base = f"http://127.0.0.1:{web_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DSO_", "CELERY_"))}
    env.update({
        "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "DATABASE_URL": database, "CELERY_BROKER_URL": broker,
        "DSO_DATA_DIR": str(folder / "data"), "TMPDIR": str(folder),
        "DSO_DEBUG": "false", "DSO_LOG_LEVEL": "WARNING",
        "DSO_WEB_BIND": f"127.0.0.1:{web_port}", "DSO_PUBLIC_URL": base,
        "DSO_LOCAL_FORGE_URL": f"http://127.0.0.1:{forge_port}/git",
        "DSO_ALLOW_HTTP_LOOPBACK": "true",  # the external repositories are plain HTTP on loopback
    })
    for name, value in (("DSO_WORKER_CONCURRENCY", concurrency), ("DSO_WEB_WORKERS", web_workers),
                        ("DSO_WEB_THREADS", web_threads)):
        if value:
            env[name] = str(value)
    # Start from an empty queue: messages another run left in this Redis database would be served first.
    subprocess.run([sys.executable, "-c", "import redis,sys; redis.Redis.from_url(sys.argv[1]).flushdb()",
                    broker], check=True)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    password = secrets.token_hex(12)
    subprocess.run([*manage, "shell", "-c",
                    "from django.contrib.auth import get_user_model as m; "
                    f"m().objects.create_superuser('bench', 'bench@example.test', '{password}')"],
                   cwd=ROOT, env=env, check=True)

    stack = Stack(folder, env)
    external_root = folder / "external"
    external_root.mkdir()
    works = []
    for index in range(repos):
        work = WorkRepo.create(folder / "work" / f"app{index:02d}")
        work.commit("initial commit", {"README.md": f"# app{index:02d}\n"})
        work.bare = init_bare(external_root / f"app{index:02d}.git")
        work.publish(work.bare)
        works.append(work)
    try:
        with serve(external_root, public=True) as external:
            stack.start("forge", [*manage, "forge_serve"])
            stack.start("web", [str(ROOT / "deploy/entrypoint.sh"), "web"])
            stack.start("worker", [str(ROOT / "deploy/entrypoint.sh"), "worker"])
            _wait(lambda: _up(f"{base}/readyz"), timeout=60, what="gunicorn", stack=stack)
            # The worker is ready when the initial syncs of the registered repositories have run.
            return _measure(base, password, external, works, rounds, stack, env)
    finally:
        stack.stop()
        shutil.rmtree(folder, ignore_errors=True)
        _drop(database)


def _drop(url: str) -> None:
    import psycopg

    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _measure(base, password, external, works, rounds, stack, env) -> dict:
    api = f"{base}/api/v1"
    token = requests.post(f"{api}/auth/token/", data={"username": "bench", "password": password},
                          timeout=30).json()["token"]
    headers = {"Authorization": f"Token {token}"}
    session = requests.Session()
    session.headers.update(headers)
    answer = session.post(f"{api}/organizations/", json={"slug": "bench", "name": "Bench"}, timeout=30)
    assert answer.status_code == 201, answer.text
    answer = session.post(f"{api}/projects/", json={"organization": "bench", "slug": "burst", "name": "Burst"},
                          timeout=30)
    assert answer.status_code == 202, answer.text
    project = answer.json()["id"]
    ids = []
    for index, work in enumerate(works):
        answer = session.post(f"{api}/projects/{project}/repositories/",
                              json={"name": f"app{index:02d}", "external_url": f"{external.url}/app{index:02d}.git"},
                              timeout=30)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])

    def initial_syncs_done() -> bool:
        found = [session.get(f"{api}/repositories/{pk}/", timeout=30).json().get("last_sync") for pk in ids]
        bad = [s for s in found if s and s["status"] == "failed"]
        assert not bad, bad
        return all(s and s["status"] in FINISHED for s in found)

    _wait(initial_syncs_done, timeout=300, what="the initial syncs", stack=stack, every=1)

    accepted, mirrored, waited, synced, per_round = [], [], [], [], []
    cpu: dict[str, float] = {}  # CPU seconds of the measured rounds, by process
    # Round 0 warms up: each gunicorn worker and pool process imports the views and tasks on its first
    # request, which a console that has been serving for a while has long done.
    for number in range(rounds + 1):
        heads = [work.commit(f"round {number}", {"ROUND": f"{number}\n"}) for work in works]
        for work in works:
            work.publish(work.bare)
        gate = threading.Barrier(len(works))

        def trigger(index: int) -> tuple[float, float, float]:
            own = requests.Session()
            own.headers.update(headers)
            gate.wait()
            started = time.time()
            response = own.post(f"{api}/repositories/{ids[index]}/sync/", timeout=60)
            answered = time.time()
            assert response.status_code == 202, response.text
            run_url = response.json()["url"]
            while True:
                # "Mirrored" is the run's own finished_at, so how often this asks changes nothing measured,
                # but asking 20 times a second from 20 threads (400 requests/s) took the CPU the syncs need.
                # First ask after a period, as the portal does (portal.js): a run just queued is still queued.
                time.sleep(POLL_SECONDS)
                run = own.get(run_url, timeout=60).json()
                if run["status"] in FINISHED:
                    break
            assert run["status"] == "succeeded" and run["head_sha"] == heads[index], run
            return (started, answered, _parse_time(run["finished_at"]), _parse_time(run["started_at"]),
                    _parse_time(run["queued_at"]))

        cpu_before = stack.cpu_seconds()
        with ThreadPoolExecutor(max_workers=len(works)) as pool:
            times = list(pool.map(trigger, range(len(works))))
        cpu_after = stack.cpu_seconds()
        round_accepted = [(t[1] - t[0]) * 1000 for t in times]
        round_mirrored = [(t[2] - t[0]) * 1000 for t in times]
        if number == 0:
            print(f"burst warm-up: trigger → mirrored max {max(round_mirrored):.0f} ms", flush=True)
            continue
        for name, seconds in cpu_after.items():
            cpu[name] = cpu.get(name, 0.0) + seconds - cpu_before.get(name, 0.0)
        accepted += round_accepted
        mirrored += round_mirrored
        waited += [(t[3] - t[4]) * 1000 for t in times]  # queued → started: waiting for a free pool process
        synced += [(t[2] - t[3]) * 1000 for t in times]  # started → finished: the sync itself
        per_round.append({"accepted_p95": _percentile(round_accepted, 0.95),
                          "mirrored_p95": _percentile(round_mirrored, 0.95),
                          "mirrored_max": max(round_mirrored)})
        print(f"burst round {number}: trigger → 202 p95 {per_round[-1]['accepted_p95']:.0f} ms, "
              f"trigger → mirrored p95 {per_round[-1]['mirrored_p95']:.0f} ms", flush=True)
    floor = _raw_git_floor(works, external, stack.folder / "raw", concurrency=int(
        env.get("DSO_WORKER_CONCURRENCY") or _shipped_concurrency()), rounds=rounds)
    return {
        "raw_git_floor": floor,
        "repos": len(works), "rounds": rounds, "samples": len(mirrored),
        "accepted_p50": statistics.median(accepted), "accepted_p95": _percentile(accepted, 0.95),
        "mirrored_p50": statistics.median(mirrored), "mirrored_p95": _percentile(mirrored, 0.95),
        "mirrored_max": max(mirrored), "per_round": per_round,
        "queue_wait_p50": statistics.median(waited), "queue_wait_p95": _percentile(waited, 0.95),
        "sync_p50": statistics.median(synced), "sync_p95": _percentile(synced, 0.95),
        "cpu_seconds_per_sync": {name: round(seconds / len(mirrored), 3) for name, seconds in cpu.items()},
        "worker_concurrency": env.get("DSO_WORKER_CONCURRENCY", "entrypoint default"),
        "web_workers": env.get("DSO_WEB_WORKERS", "gunicorn.conf default"),
        "web_threads": env.get("DSO_WEB_THREADS", "gunicorn.conf default"),
    }


def _shipped_concurrency() -> int:
    text = (ROOT / "deploy/entrypoint.sh").read_text()
    return int(text.split("DSO_WORKER_CONCURRENCY:-", 1)[1].split("}", 1)[0])


def _raw_git_floor(works, external, folder: Path, *, concurrency: int, rounds: int) -> dict:
    """The same burst done by plain git alone: per repository a ``fetch --prune`` into a bare cache and a
    ``push --prune`` to a bare target (served by the same ``git http-backend`` over loopback), the 20 jobs on
    as many threads as the worker has pool processes, all released at once. No console, no database, no
    broker: what this machine needs for the git work of such a burst, the lower bound of the row."""
    sys.path.insert(0, str(ROOT))
    from provisioning.forge.base import GitRemote
    from provisioning.git.client import GitClient
    from provisioning.mirror import REFSPECS
    from tests.support.gitrepos import init_bare, serve

    token = secrets.token_hex(8)
    targets_root = folder / "targets"
    caches = [init_bare(folder / "caches" / f"app{i:02d}.git") for i in range(len(works))]
    for index in range(len(works)):
        init_bare(targets_root / f"app{index:02d}.git")
    finished: list[float] = []
    with serve(targets_root, write_token=token) as targets:
        def job(index: int) -> float:
            source = GitRemote(f"{external.url}/app{index:02d}.git")
            target = GitRemote(f"{targets.url}/app{index:02d}.git", "bench", token)
            GitClient(caches[index], remote=source).run(
                "fetch", "--prune", "--prune-tags", "--no-write-fetch-head", "--quiet", source.url, *REFSPECS,
                remote=True)
            GitClient(caches[index], remote=target).run(
                "push", "--prune", "--quiet", target.url, *REFSPECS, remote=True)
            return time.time()

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(job, range(len(works))))  # the first, full copy: not measured
            for number in range(rounds):
                for work in works:
                    work.commit(f"raw round {number}", {"RAW": f"{number}\n"})
                    work.publish(work.bare)
                started = time.time()
                finished += [(done - started) * 1000 for done in pool.map(job, range(len(works)))]
    return {"p50": statistics.median(finished), "p95": _percentile(finished, 0.95), "concurrency": concurrency,
            "samples": len(finished)}
