"""deploy/entrypoint.sh run outside a container, exactly as the image runs it, in production mode with the
base ConfigMap's values: the web role (gunicorn, two workers) answers probes, static files and metrics
summed over its workers over real HTTP on loopback; the worker role runs tasks, counts them on its
metrics port and logs JSON lines with the run and task ids and without the repository's token."""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import yaml
from django.db import connection
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
CONFIGMAP = ROOT / "deploy" / "kustomize" / "base" / "configmap.yaml"
METRICS_TOKEN = "metrics-" + secrets.token_hex(12)

pytestmark = [pytest.mark.slow, pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    if connection.vendor != "postgresql":
        pytest.skip("the roles run as separate processes sharing the test database: needs PostgreSQL")
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def production_env(settings, tmp_path, forge_server) -> dict[str, str]:
    """The base ConfigMap plus the Secret's keys, pointed at this machine's services and the test's forge."""
    if settings.CELERY_BROKER_URL.startswith(("filesystem:", "memory:")):
        pytest.skip("the roles run as separate processes: needs a broker server (Redis or RabbitMQ)")
    # One key for this test and the roles: what the test stores encrypted, the worker decrypts.
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    settings.ENCRYPTION_KEYS = [key]
    config = yaml.safe_load(CONFIGMAP.read_text())["data"]
    env = {key: str(value) for key, value in config.items()}
    env.update({
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
        "HOME": str(tmp_path), "TMPDIR": str(tmp_path),
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DSO_SECRET_KEY": secrets.token_urlsafe(50),
        "DSO_ENCRYPTION_KEYS": key,
        "DSO_METRICS_TOKEN": METRICS_TOKEN,
        "DSO_GITLAB_TOKEN": "", "DSO_GITLAB_BOT_TOKEN": "", "DSO_CACHE_URL": "",
        "DSO_FORGE": "local",
        "DSO_LOCAL_FORGE_URL": settings.LOCAL_FORGE_URL,
        "DSO_LOCAL_FORGE_ROOT": str(settings.LOCAL_FORGE_ROOT),
        "DSO_LOCAL_FORGE_WRITE_TOKEN": settings.LOCAL_FORGE_WRITE_TOKEN,
        "DSO_LOCAL_FORGE_READ_TOKEN": settings.LOCAL_FORGE_READ_TOKEN,
        "DSO_DATA_DIR": str(tmp_path / "data"),
        "DSO_MIRROR_CACHE_DIR": str(tmp_path / "data" / "mirror-cache"),
        "DSO_DELIVERY_WORK_DIR": str(tmp_path / "data" / "delivery"),
        "DSO_STATIC_ROOT": str(tmp_path / "static"),
        "DSO_ALLOWED_HOSTS": "127.0.0.1",
        "DSO_PUBLIC_URL": "https://127.0.0.1",
    })
    assert env["DSO_ENV"] == "production" and env["DSO_SSL_REDIRECT"] == "true"
    return env


def run_role(env, *args, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(ENTRYPOINT), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


class Role:
    """A long-running role started through the entrypoint; its output goes to a file the test reads."""

    def __init__(self, env, role: str, log: Path, *args: str):
        self.log = log
        self.process = subprocess.Popen(["sh", str(ENTRYPOINT), role, *args], env=env, cwd="/",
                                        stdout=log.open("w"), stderr=subprocess.STDOUT)

    def wait_until(self, url: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if requests.get(url, timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.3)
        raise AssertionError(f"{url} never answered 200:\n{self.log.read_text()}")

    def stop(self) -> list[dict]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        text = self.log.read_text()
        # Production logs are JSON, every line: a log stack must not meet a banner or a bare warning.
        # Celery prints its shutdown notice from the signal handler itself (where logging could deadlock).
        plain = [line for line in text.splitlines() if line.strip() and not line.startswith("{")
                 and line != "worker: Warm shutdown (MainProcess)"]
        assert not plain, "\n".join(plain[:20])
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_web_role_serves_probes_static_files_and_metrics_summed_over_its_workers(production_env, tmp_path):
    collected = run_role(production_env, "manage", "collectstatic", "--noinput")
    assert collected.returncode == 0, collected.stderr
    migrated = run_role(production_env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    checked = run_role(production_env, "manage", "check", "--deploy", "--fail-level", "WARNING")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**production_env, "DSO_WEB_BIND": f"127.0.0.1:{port}", "DSO_WEB_WORKERS": "2"}
    web = Role(env, "web", tmp_path / "web.log")
    try:
        web.wait_until(f"{base}/healthz")
        # The kubelet: plain HTTP to an address not in ALLOWED_HOSTS, with the HTTPS redirect on.
        ready = requests.get(f"{base}/readyz", headers={"Host": "10.42.0.7:8000"}, timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["failing"] == []

        https = {"X-Forwarded-Proto": "https"}
        assert requests.get(f"{base}/accounts/login/", allow_redirects=False, timeout=10).status_code == 301
        for _ in range(20):
            assert requests.get(f"{base}/accounts/login/", headers=https, timeout=10).status_code == 200

        favicon = requests.get(f"{base}/favicon.ico", headers=https, allow_redirects=False, timeout=10)
        hashed = favicon.headers["Location"]
        assert hashed.startswith("/static/console/favicon.") and hashed.endswith(".svg") and hashed.count(".") == 2
        static = requests.get(f"{base}{hashed}", headers={**https, "Accept-Encoding": "gzip"}, timeout=10)
        assert static.status_code == 200
        assert "immutable" in static.headers["Cache-Control"]  # WhiteNoise: hashed names cache forever

        missing = requests.get(f"{base}/no-such-page-{METRICS_TOKEN}/", timeout=10,
                               headers={**https, "X-Request-ID": "e2e-request-1"})
        assert missing.status_code == 404 and missing.headers["X-Request-ID"] == "e2e-request-1"

        assert requests.get(f"{base}/metrics", timeout=10).status_code == 401
        scraped = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
        assert scraped.status_code == 200
    finally:
        lines = web.stop()

    metrics = samples(scraped.text)
    # 20 requests spread over two gunicorn workers: one scrape sees them all (multiprocess mode).
    assert metrics[("dso_http_requests_total", (("method", "GET"), ("status", "2xx"), ("view", "login")))] == 20
    assert ("dso_runs", (("kind", "sync"), ("status", "queued"))) in metrics

    booted = {line["message"] for line in lines if line["message"].startswith("Booting worker")}
    assert len(booted) >= 2, lines
    request_lines = [line for line in lines if line.get("request_id") == "e2e-request-1"]
    assert {line["logger"] for line in request_lines} == {"django.request", "gunicorn.access"}
    access = next(line for line in request_lines if line["logger"] == "gunicorn.access")
    assert access["http"]["status"] == "404" and access["http"]["path"] == "/no-such-page-***/"
    everything = json.dumps(lines)
    assert METRICS_TOKEN not in everything and production_env["DSO_SECRET_KEY"] not in everything


def test_worker_role_runs_tasks_counts_them_and_logs_their_ids(production_env, tmp_path, settings,
                                                               private_external_forge):
    from console.celery import app
    from console.models import RunStatus, SyncRun, Trigger
    from tests.factories import make_project, make_repository

    project = make_project()
    token = private_external_forge.token
    direct = make_repository(project, name="direct", external_url=private_external_forge.url("gone-a"),
                             is_private=True, username="ci", token=token)
    lost = make_repository(project, name="lost", external_url=private_external_forge.url("gone-b"),
                           is_private=True, username="ci", token=token)
    run = SyncRun.objects.create(repository=direct, trigger=Trigger.API)
    stale = SyncRun.objects.create(repository=lost, trigger=Trigger.API)
    SyncRun.objects.filter(pk=stale.pk).update(queued_at=timezone.now() - timedelta(hours=1))

    app.conf.broker_url = settings.CELERY_BROKER_URL
    with app.connection_for_write() as broker:
        broker.default_channel.queue_declare("dso", durable=True, auto_delete=False)
        broker.default_channel.queue_purge("dso")

    port = free_port()
    env = {**production_env, "DSO_METRICS_PORT": str(port), "DSO_METRICS_BIND": "127.0.0.1",
           "DSO_ALLOW_HTTP_LOOPBACK": "true", "DSO_WORKER_CONCURRENCY": "1",
           "DSO_STALE_QUEUED_AFTER_SECONDS": "60"}
    worker = Role(env, "worker", tmp_path / "worker.log")
    try:
        worker.wait_until(f"http://127.0.0.1:{port}/healthz")
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10).json()["failing"] == []

        sent = app.send_task("dso.sync.execute", args=[run.pk])
        app.send_task("dso.runs.sweep_stuck")  # re-enqueues the run whose message was lost

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and SyncRun.objects.filter(
                pk__in=[run.pk, stale.pk], status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exists():
            time.sleep(0.3)
        scraped = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10,
                               headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        refused = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        lines = worker.stop()

    run.refresh_from_db()
    stale.refresh_from_db()
    assert run.status == RunStatus.FAILED and stale.status == RunStatus.FAILED, (run.error_message, lines)
    assert refused.status_code == 401 and scraped.status_code == 200
    metrics = samples(scraped.text)
    assert metrics[("dso_runs_finished_total", (("kind", "sync"), ("outcome", "failed")))] == 2
    assert metrics[("dso_sweeper_corrections_total", (("action", "requeued"), ("kind", "sync")))] == 1
    assert metrics[("dso_run_queue_wait_seconds_count", (("kind", "sync"),))] == 2

    failed = next(line for line in lines if line["message"].startswith(f"sync run {run.pk} of"))
    assert failed["run_id"] == str(run.pk) and failed["task_id"] == sent.id and failed["task"] == "dso.sync.execute"
    assert any(line.get("task") == "dso.runs.sweep_stuck" and line.get("task_id") for line in lines)
    assert token not in json.dumps(lines)
