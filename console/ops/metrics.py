"""Prometheus metrics.

Two kinds, so that gunicorn's and Celery's many processes add up right:

- **Events** (requests served, runs finished, queue wait, sweeper corrections) are counted in the process
  where they happen. With ``PROMETHEUS_MULTIPROC_DIR`` set (the entrypoint sets it for every role) each
  process writes its own file and a scrape sums them: the web's ``/metrics`` sums its gunicorn workers, a
  worker's metrics port (``DSO_METRICS_PORT``) sums its pool processes.
- **State** (runs queued or running now, the oldest of them, open redeploy warnings, drift) is read from the
  database at scrape time, one small indexed query each, and only on the web's ``/metrics``. Other parts of
  the console add theirs with ``register_state_gauge``; drift is read from the cluster read-back's
  ``DriftRecord`` model when it exists, and quietly left out when it does not.

Both endpoints need ``Authorization: Bearer $DSO_METRICS_TOKEN``; without a token they are off.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

# Seconds. Requests are sub-second; runs go from a no-op sync (~0.1 s) to a first mirror of a big repository.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RUN_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

REQUEST_LATENCY = Histogram(
    "dso_http_request_duration_seconds", "Time to answer an HTTP request, by view (URL name) and method.",
    ["view", "method"], buckets=REQUEST_BUCKETS)
REQUESTS = Counter("dso_http_requests", "HTTP requests answered, by view, method and status class.",
                   ["view", "method", "status"])
RUNS_FINISHED = Counter("dso_runs_finished", "Runs a worker finished, by kind and outcome.", ["kind", "outcome"])
RUN_DURATION = Histogram("dso_run_duration_seconds", "From a run's start to its end, by kind and outcome.",
                         ["kind", "outcome"], buckets=RUN_BUCKETS)
QUEUE_WAIT = Histogram("dso_run_queue_wait_seconds", "From a run being queued to a worker starting it.",
                       ["kind"], buckets=RUN_BUCKETS)
SWEEPER_CORRECTIONS = Counter(
    "dso_sweeper_corrections", "What the sweeper corrected: runs failed past the deadline, lapsed leases "
    "relaunched, lost messages re-enqueued, by kind and action.", ["kind", "action"])


# --- state read from the database at scrape ---------------------------------------------------------------

# A reader returns gauge families; it runs one cheap query (or a few small ones). LookupError means "not
# available in this deployment" and is quiet.
StateReader = Callable[[], Iterable[GaugeMetricFamily]]
_STATE_READERS: dict[str, StateReader] = {}


def register_state_gauge(name: str, read: StateReader) -> None:
    """Add gauges computed from the database when the web's /metrics is scraped."""
    _STATE_READERS[name] = read


def _read_active_runs():
    """Queued and running runs per kind and the age of the oldest: one grouped query per kind, served by the
    partial indexes that keep one queued and one running run per resource."""
    from django.db.models import Count, Min
    from django.utils import timezone

    from console.models import ACTIVE_STATUSES
    from console.services.run_kinds import KINDS

    now = timezone.now()
    counts = GaugeMetricFamily("dso_runs", "Runs queued or running now, by kind.", labels=["kind", "status"])
    oldest = GaugeMetricFamily(
        "dso_run_oldest_age_seconds", "Age of the oldest queued run (since queued) and of the oldest running "
        "one (since its current attempt was claimed), by kind; 0 when there is none.", labels=["kind", "status"])
    for kind in KINDS.values():
        rows = {row["status"]: row for row in kind.model.objects.filter(status__in=ACTIVE_STATUSES)
                .order_by().values("status").annotate(n=Count("id"), oldest=Min("queued_at"),
                                                      oldest_claim=Min("claimed_at"))}
        for status in ACTIVE_STATUSES:
            row = rows.get(status, {"n": 0, "oldest": None, "oldest_claim": None})
            since = row["oldest_claim"] if status == "running" else row["oldest"]
            counts.add_metric([kind.name, str(status)], row["n"])
            oldest.add_metric([kind.name, str(status)], max(0.0, (now - since).total_seconds()) if since else 0.0)
    return [counts, oldest]


def _read_redeploy_warnings():
    from console.models import ImageRelease

    family = GaugeMetricFamily("dso_redeploy_warnings_open",
                               "Images built but not yet bumped in any infra repository.")
    family.add_metric([], ImageRelease.objects.filter(resolved_at__isnull=True).count())
    return [family]


def _read_drift():
    """Drift records still open (read-back found them and they have not been resolved)."""
    from console.models import DriftRecord

    family = GaugeMetricFamily("dso_drift_open", "Live objects that differ from what the console rendered.")
    family.add_metric([], DriftRecord.objects.filter(resolved_at__isnull=True).count())
    return [family]


register_state_gauge("runs", _read_active_runs)
register_state_gauge("redeploy_warnings", _read_redeploy_warnings)
register_state_gauge("drift", _read_drift)


class StateCollector:
    def collect(self):
        for name, read in _STATE_READERS.items():
            try:
                families = list(read())
            except LookupError:
                continue
            except Exception:  # noqa: BLE001 - one failing reader must not take the others down
                log.exception("state metrics %s could not be read", name)
                continue
            yield from families


# --- exposition -------------------------------------------------------------------------------------------

def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def event_registry():
    """What this process (or, in multiprocess mode, every process of its role) counted."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


def exposition(*, with_state: bool) -> bytes:
    text = generate_latest(event_registry())
    if with_state:
        state = CollectorRegistry(auto_describe=False)
        state.register(StateCollector())
        text += generate_latest(state)
    return text


def token_accepted(authorization: str | None, token: str) -> bool:
    if not token or not authorization:
        return False
    scheme, _, value = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


# --- recording --------------------------------------------------------------------------------------------

def observe_request(*, view: str, method: str, status: int, seconds: float) -> None:
    method = method if method in {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} else "other"
    REQUEST_LATENCY.labels(view, method).observe(seconds)
    REQUESTS.labels(view, method, f"{status // 100}xx").inc()


def observe_run_end(run) -> None:
    """A task finished ``run`` (its own conditional update ended it, so a retried, handed-over or already
    finished run is never counted): its outcome, its duration and how long it waited in the queue, from the
    values that update wrote (no query)."""
    from console.services.run_kinds import KINDS

    kind_name = next((kind.name for kind in KINDS.values() if isinstance(run, kind.model)), None)
    if kind_name is None:
        return
    outcome = str(run.status)
    RUNS_FINISHED.labels(kind_name, outcome).inc()
    if run.started_at and run.finished_at:
        RUN_DURATION.labels(kind_name, outcome).observe((run.finished_at - run.started_at).total_seconds())
    if run.started_at and run.queued_at:
        QUEUE_WAIT.labels(kind_name).observe(max(0.0, (run.started_at - run.queued_at).total_seconds()))


def observe_sweep(report: dict) -> None:
    from console.services.run_kinds import KINDS

    names = {kind.report_key: kind.name for kind in KINDS.values()}
    for key, counts in (report or {}).items():
        for action, count in (counts or {}).items():
            if isinstance(count, int) and count > 0:
                SWEEPER_CORRECTIONS.labels(names.get(key, key), action).inc(count)


__all__ = ["CONTENT_TYPE_LATEST", "exposition", "observe_request", "observe_run_end", "observe_sweep",
           "register_state_gauge", "token_accepted"]
