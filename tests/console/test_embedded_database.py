"""The embedded SQLite database under the portal and the worker writing at once.

A transaction that reads, then writes while another connection writes, gets "database is locked" at once
on SQLite's default (deferred) transactions, whatever the timeout: the worker logged exactly that on the
demo's first syncs under `make run`. The embedded settings must make both transactions succeed."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from django.db import connections, transaction

from tests.smoke.stack import REPO, clean_environment


def embedded_database(data_dir) -> dict:
    """DATABASES['default'] exactly as `make run` gets it (no DATABASE_URL, its own data folder)."""
    code = "import json, console.settings as s; print(json.dumps(s.DATABASES['default']))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                          env=clean_environment(DSO_DATA_DIR=str(data_dir)))
    return json.loads(done.stdout)


def test_a_read_then_write_transaction_waits_for_a_concurrent_writer(tmp_path, django_db_blocker):
    settings_dict = embedded_database(tmp_path / "var")
    assert settings_dict["ENGINE"] == "django.db.backends.sqlite3"
    # Two aliases on that one file, as the portal and the worker open it; atomic() needs them registered.
    configured = connections.configure_settings({"default": settings_dict, "reader": settings_dict,
                                                 "writer": settings_dict})
    connections.settings.update(reader=configured["reader"], writer=configured["writer"])
    try:
        with django_db_blocker.unblock():  # its own SQLite file, not the test database
            errors = _read_then_write_beside_a_writer()
            with connections["reader"].cursor() as cursor:
                cursor.execute("SELECT who FROM runs ORDER BY who")
                rows = [row[0] for row in cursor.fetchall()]
    finally:
        for alias in ("reader", "writer"):
            connections[alias].close()
            del connections.settings[alias]
    assert errors == []
    assert rows == ["portal", "worker"]


def _read_then_write_beside_a_writer() -> list[BaseException]:
    with connections["reader"].cursor() as cursor:
        cursor.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, who TEXT)")
    reader_read, writer_wrote = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def reader_then_writer():  # the worker: reads its run, then records the outcome
        try:
            with transaction.atomic(using="reader"), connections["reader"].cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM runs")
                reader_read.set()
                writer_wrote.wait(timeout=2)  # with immediate transactions the writer waits for us instead
                cursor.execute("INSERT INTO runs (who) VALUES ('worker')")
        except BaseException as error:  # noqa: BLE001 - reported by the caller
            errors.append(error)
        finally:
            reader_read.set()
            connections["reader"].close()

    def writer():  # a portal request queuing a run meanwhile
        reader_read.wait(timeout=30)
        try:
            with transaction.atomic(using="writer"), connections["writer"].cursor() as cursor:
                cursor.execute("INSERT INTO runs (who) VALUES ('portal')")
                writer_wrote.set()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connections["writer"].close()

    threads = [threading.Thread(target=reader_then_writer), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors
