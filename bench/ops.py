"""What the probes and a metrics scrape cost, in process (no HTTP server), on the configured database and
broker, with the local forge served over loopback.

    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... .venv/bin/python bench/ops.py [--samples 50]

The database must be migrated (`manage.py migrate`); nothing is written to it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
os.environ.setdefault("DSO_METRICS_TOKEN", "bench-metrics-token")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

from provisioning.githttp import GitAccess, GitHttpServer  # noqa: E402

TARGETS_MS = {"/healthz": 2.0, "/readyz": 25.0, "/metrics": 50.0}


def measure(client: Client, path: str, samples: int) -> tuple[float, float]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {settings.METRICS_TOKEN}"}
    client.get(path, **headers)  # warm: connections, migration graph
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        response = client.get(path, **headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.content[:300])
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=50)
    samples = parser.parse_args().samples
    with tempfile.TemporaryDirectory() as root, \
            GitHttpServer(Path(root), lambda *_: GitAccess.READ, url_prefix="/git") as forge:
        settings.LOCAL_FORGE_URL = forge.url
        client = Client()
        print(f"{'path':<10} {'p50 ms':>8} {'p95 ms':>8} {'target p95':>11} {'ratio':>6}   ({samples} requests)")
        for path, target in TARGETS_MS.items():
            p50, p95 = measure(client, path, samples)
            print(f"{path:<10} {p50:8.2f} {p95:8.2f} {target:11.1f} {p95 / target:6.2f}")


if __name__ == "__main__":
    main()
