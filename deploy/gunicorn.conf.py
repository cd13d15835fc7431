"""gunicorn settings for the web role (`deploy/entrypoint.sh web`). Every value can be overridden by its
environment variable; the defaults suit one pod with a CPU limit.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # console.ops.logs, before Django loads


def available_cpus() -> int:
    """CPUs this container may use: the cgroup quota (a pod's CPU limit) when there is one, otherwise the CPUs
    the process may run on. os.cpu_count() would report every CPU of the node."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = os.environ.get("DSO_WEB_BIND", "0.0.0.0:8000")
# gunicorn's advice, (2 x CPUs) + 1, with threads so a burst of slow requests (a sync trigger waits on the
# database and the broker) does not queue behind one another.
workers = _int("DSO_WEB_WORKERS", 2 * available_cpus() + 1)
worker_class = "gthread"
threads = _int("DSO_WEB_THREADS", 4)
# A request that takes longer is killed and logged: the console's long work runs in Celery, not here.
timeout = _int("DSO_WEB_TIMEOUT_SECONDS", 60)
# SIGTERM (a rollout) lets requests in flight finish within this; it must stay below the pod's grace period.
graceful_timeout = _int("DSO_WEB_GRACEFUL_TIMEOUT_SECONDS", 25)
keepalive = _int("DSO_WEB_KEEPALIVE_SECONDS", 5)
# Heartbeat files in memory: the root filesystem is read-only in the pod, and /tmp may be slow disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# One access line per request, with the request id the console put in the response.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
# gunicorn's control socket (`gunicornc`) would be written under $HOME, which is read-only in the pod.
control_socket_disable = True
loglevel = os.environ.get("DSO_LOG_LEVEL", "info").lower()

from console.ops.logs import log_format_from_env, logging_config  # noqa: E402

if log_format_from_env() == "json":
    logconfig_dict = logging_config(log_format="json", level=loglevel.upper())


def child_exit(server, worker):
    """A worker that exited leaves its counters in the multiprocess folder (they are summed on); its
    live-process gauges are dropped."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
