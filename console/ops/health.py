"""Liveness and readiness: ``/healthz`` (the process answers) and ``/readyz`` (what serving needs answers).

Readiness checks, in order, each bounded by ``DSO_READY_TIMEOUT_SECONDS``: the database answers a query,
every migration this code ships is applied (so a new pod takes no traffic before the migration Job ran), the
Celery broker accepts a connection, and the forge answers. ``DSO_READY_CHECKS`` picks which (a platform that
would rather keep the portal up while GitLab is down drops ``forge``). Each costs one round trip; none needs
a signed-in user, and the body names the failing dependency without any credential.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from console.ops.logs import redact_line

ALL_CHECKS = ("database", "migrations", "broker", "forge")


class CheckFailed(Exception):
    """A dependency did not answer; the message says which way, for a person."""


def check_database() -> None:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any driver error means not ready
        raise CheckFailed(f"the database does not answer ({type(exc).__name__})") from None


@lru_cache(maxsize=1)
def _shipped_migrations() -> frozenset[tuple[str, str]]:
    """Read once per process from the code on disk: it does not change while the process runs."""
    from django.db.migrations.loader import MigrationLoader

    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


_migrations_applied = False


def check_migrations() -> None:
    global _migrations_applied
    if _migrations_applied:
        return  # migrations are never unapplied under a running process
    from django.db.migrations.recorder import MigrationRecorder

    try:
        # One query; a missing table raises, which is just as unready.
        applied = set(MigrationRecorder(connections[DEFAULT_DB_ALIAS]).migration_qs.values_list("app", "name"))
    except Exception as exc:  # noqa: BLE001
        raise CheckFailed(f"the migration table cannot be read ({type(exc).__name__})") from None
    missing = sorted(_shipped_migrations() - applied)
    if missing:
        names = ", ".join(f"{app}.{name}" for app, name in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise CheckFailed(f"{len(missing)} migration(s) not applied: {names}{more}; run manage.py migrate")
    _migrations_applied = True


def check_broker() -> None:
    from console.celery import app

    timeout = settings.READY_TIMEOUT_SECONDS
    options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "socket_connect_timeout": timeout,
               "socket_timeout": timeout}
    try:
        with app.connection_for_write(url=settings.CELERY_BROKER_URL, transport_options=options,
                                      connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - kombu raises a different class per transport
        raise CheckFailed(f"the Celery broker does not accept connections ({type(exc).__name__})") from None


def check_forge() -> None:
    from provisioning.errors import ProvisioningError
    from provisioning.forge.health import gitlab_answers, local_forge_answers

    timeout = settings.READY_TIMEOUT_SECONDS
    try:
        if settings.FORGE_KIND == "gitlab":
            gitlab_answers(settings.GITLAB_URL, settings.GITLAB_TOKEN, timeout=timeout,
                           ssl_verify=settings.GITLAB_SSL_VERIFY)
        else:
            local_forge_answers(settings.LOCAL_FORGE_URL, timeout=timeout)
    except ProvisioningError as exc:
        raise CheckFailed(exc.message) from None


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "migrations": check_migrations,
    "broker": check_broker,
    "forge": check_forge,
}


def readiness() -> tuple[bool, dict]:
    """(ready, body): every check's outcome and time; ``failing`` lists the names that did not answer."""
    results: dict[str, dict] = {}
    failing: list[str] = []
    for name in settings.READY_CHECKS:
        started = time.perf_counter()
        try:
            if name == "migrations" and "database" in failing:
                raise CheckFailed("not checked: the database does not answer")
            CHECKS[name]()
        except CheckFailed as exc:
            failing.append(name)
            results[name] = {"ok": False, "detail": redact_line(str(exc))}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    body = {"status": "ok" if not failing else "unavailable", "failing": failing, "checks": results}
    if failing:
        body["detail"] = "not ready: " + ", ".join(f"{name} ({results[name]['detail']})" for name in failing)
        body["code"] = "not_ready"
    return not failing, body
