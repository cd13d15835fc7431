#!/bin/sh
# One image, every role: `entrypoint.sh web|worker|beat|migrate|manage ARGS...` (any other command runs as is).
# The same script runs in the container and in tests/deploy/test_entrypoint.py outside one, so it cannot rot.
set -eu

APP_DIR=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$APP_DIR"
role=${1:-web}
[ "$#" -gt 0 ] && shift

# Prometheus multiprocess mode: each gunicorn worker or Celery pool process writes its counts here and a
# scrape sums them. Emptied at start, so counts of a previous container do not linger.
metrics_dir=${PROMETHEUS_MULTIPROC_DIR:-${TMPDIR:-/tmp}/dso-metrics-$role}
rm -rf "$metrics_dir" && mkdir -p "$metrics_dir"
export PROMETHEUS_MULTIPROC_DIR="$metrics_dir"

# JSON logs (production's default): Celery's start-up banner is not a log line, so it is left out.
celery_quiet=
case "${DSO_LOG_FORMAT:-}" in
  json) celery_quiet=--quiet ;;
  "") if [ "${DSO_ENV:-}" = production ]; then celery_quiet=--quiet; fi ;;
esac

case "$role" in
  web)
    exec gunicorn --config "${DSO_GUNICORN_CONFIG:-$APP_DIR/deploy/gunicorn.conf.py}" "$@" console.wsgi:application
    ;;
  worker)
    # acks_late is on for every task: a worker stopped mid-run (SIGTERM, then SIGKILL after the grace
    # period) leaves its message unacknowledged, and the broker hands it to another worker.
    exec celery -A console $celery_quiet worker --queues "${DSO_WORKER_QUEUES:-dso}" \
      --concurrency "${DSO_WORKER_CONCURRENCY:-2}" --loglevel "${DSO_LOG_LEVEL:-INFO}" \
      --hostname "${DSO_WORKER_NAME:-worker@%h}" "$@"
    ;;
  beat)
    # Exactly one beat per deployment (the sweeper's schedule); its schedule file is a scratch file.
    exec celery -A console $celery_quiet beat --loglevel "${DSO_LOG_LEVEL:-INFO}" \
      --schedule "${DSO_BEAT_SCHEDULE:-${TMPDIR:-/tmp}/celerybeat-schedule}" "$@"
    ;;
  migrate)
    exec python manage.py migrate --noinput "$@"
    ;;
  manage)
    exec python manage.py "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
