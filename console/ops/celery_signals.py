"""Celery's side of logs and metrics, connected when ``console.celery`` is imported.

- Each task runs inside ``log_context(task_id=..., task=..., run_id=...)``: every line it logs carries them.
- A run's task that finished its run counts it (outcome, duration, queue wait); the sweeper's report becomes
  correction counts.
- ``DSO_METRICS_PORT``: the worker's main process serves what its pool processes counted (multiprocess mode),
  behind the same bearer token as the web's /metrics, and the worker's /healthz and /readyz probes.
- In JSON mode Celery does not install its own log format: the settings' LOGGING applies to workers too.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import threading

from celery import signals

from console.ops.logs import log_context

log = logging.getLogger(__name__)

_open_contexts: dict[str, object] = {}


def _run_kind(task_name: str | None) -> str | None:
    from console.services.run_kinds import KINDS

    for kind in KINDS.values():
        if kind.task_name == task_name:
            return kind.name
    return None


def _run_id(args, kwargs) -> int | None:
    value = (kwargs or {}).get("run_id", (args or [None])[0] if args else None)
    return value if isinstance(value, int) else None


@signals.task_prerun.connect
def _enter_task(task_id=None, task=None, args=None, kwargs=None, **_):
    name = getattr(task, "name", None)
    run_id = _run_id(args, kwargs) if _run_kind(name) else None
    context = log_context(task_id=task_id, task=name, run_id=run_id)
    context.__enter__()
    _open_contexts[task_id] = context


@signals.task_postrun.connect
def _leave_task(task_id=None, task=None, args=None, kwargs=None, retval=None, **_):
    try:
        name = getattr(task, "name", None)
        from console.ops import metrics

        # A run's end is counted by the service that finished it (console.services.runs.finish_run).
        if name == "dso.runs.sweep_stuck" and isinstance(retval, dict):
            metrics.observe_sweep(retval)
    except Exception:  # noqa: BLE001 - counting must never fail a task
        log.exception("metrics of task %s could not be recorded", task_id)
    finally:
        context = _open_contexts.pop(task_id, None)
        if context is not None:
            context.__exit__(None, None, None)


def connect_logging() -> None:
    """In JSON mode, keep Celery from replacing the root logger's handler with its own format, and make the
    lines logged before Django's settings load (Celery's start-up warnings) JSON too."""
    from console.ops.logs import logging_config

    logging.config.dictConfig(logging_config(log_format="json", level=os.environ.get("DSO_LOG_LEVEL") or "INFO"))
    logging.captureWarnings(True)

    @signals.setup_logging.connect(weak=False)
    def _django_logging(**_):
        from django.conf import settings

        logging.config.dictConfig(settings.LOGGING)
        logging.captureWarnings(True)  # Celery's start-up warnings become JSON lines too


@signals.worker_process_shutdown.connect
def _pool_process_gone(pid=None, **_):
    from console.ops.metrics import multiprocess_dir

    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


@signals.worker_init.connect
def _serve_worker_metrics(**_):
    from django.conf import settings

    port = getattr(settings, "METRICS_PORT", 0)
    if not port:
        return
    server = worker_metrics_server(settings.METRICS_BIND, port, settings.METRICS_TOKEN)
    threading.Thread(target=server.serve_forever, name="dso-metrics", daemon=True).start()
    log.info("worker metrics on http://%s:%s/metrics", settings.METRICS_BIND, server.server_port)


def worker_metrics_server(host: str, port: int, token: str):
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from console.ops import metrics

    def app(environ, start_response):
        path = environ.get("PATH_INFO")
        if path in ("/healthz", "/readyz"):
            # The worker's probes: alive while this thread answers, ready while its database and broker do.
            ready, body = True, {"status": "ok"}
            if path == "/readyz":
                from django.db import connections

                from console.ops.health import readiness

                try:
                    ready, body = readiness()
                finally:
                    connections.close_all()  # this request's thread ends here: keep no connection behind
            start_response("200 OK" if ready else "503 Service Unavailable",
                           [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
            return [json.dumps(body).encode()]
        if path != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if not metrics.token_accepted(environ.get("HTTP_AUTHORIZATION"), token):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")])
            return [b"metrics need Authorization: Bearer <DSO_METRICS_TOKEN>\n"]
        start_response("200 OK", [("Content-Type", metrics.CONTENT_TYPE_LATEST)])
        return [metrics.exposition(with_state=False)]

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):  # scrapes every 15 s would drown the worker's log
            pass

    class ThreadingServer(WSGIServer):
        daemon_threads = True

    return make_server(host, port, app, server_class=ThreadingServer, handler_class=QuietHandler)
