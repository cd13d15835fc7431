"""The embedded SQLite settings under concurrent writers (issue 7).

The worker's image scan reads and then writes in one transaction while portal requests write. With SQLite's
default deferred transactions the scan's write fails at once with "database is locked" whenever a portal
write landed between its read and its write; the settings' immediate transactions make it wait its turn.

These tests build their own SQLite file and connections from ``console.settings.database_config``, so they
run the same on the PostgreSQL suite as on ``make test-lite``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from django.db import OperationalError, connections, transaction

from console.settings import database_config

ALIAS = "sqlite_concurrency_probe"
# How long the scan's transaction gives the portal write to land between its read and its write. Without
# immediate transactions that write lands within milliseconds; with them it cannot land at all (it waits for
# the scan's lock), so this only bounds how long the passing case waits. It is no assertion on timing.
WINDOW_SECONDS = 3.0


@pytest.fixture
def sqlite_database(tmp_path, django_db_blocker) -> Iterator:
    """Register a file SQLite database under ALIAS with a given config; remove it afterwards."""

    def register(config: dict) -> None:
        # configure_settings fills in every key Django expects (and insists on a default alias).
        configured = connections.configure_settings({"default": connections.settings["default"], ALIAS: config})
        connections.settings[ALIAS] = configured[ALIAS]
        with transaction.atomic(using=ALIAS), connections[ALIAS].cursor() as cursor:
            cursor.execute("CREATE TABLE writes (id INTEGER PRIMARY KEY AUTOINCREMENT, writer TEXT NOT NULL)")
        connections[ALIAS].close()

    with django_db_blocker.unblock():
        yield register
        connections[ALIAS].close()
    del connections[ALIAS]  # this thread's wrapper, so the next test connects to its own file
    connections.settings.pop(ALIAS, None)


def sqlite_config(tmp_path, *, immediate: bool, journal_mode: str = "wal") -> dict:
    config = database_config(f"sqlite:///{tmp_path / 'console.sqlite3'}")
    if not immediate:
        config["OPTIONS"].pop("transaction_mode")  # SQLite's default: DEFERRED
    if journal_mode != "wal":
        config["OPTIONS"]["init_command"] = f"PRAGMA journal_mode={journal_mode}"
    return config


# WAL is what the settings use; DELETE (a rollback journal) is SQLite's default and what they used before.
JOURNAL_MODES = pytest.mark.parametrize("journal_mode", ["wal", "delete"])


def scan_and_portal_write_concurrently() -> dict[str, BaseException | None]:
    """The scan reads, a portal request writes, the scan writes: each in its own thread and connection."""
    scan_has_read = threading.Event()
    portal_begins = threading.Event()
    portal_done = threading.Event()
    errors: dict[str, BaseException | None] = {"scan": None, "portal": None}

    def scan() -> None:
        try:
            with transaction.atomic(using=ALIAS), connections[ALIAS].cursor() as cursor:
                cursor.execute("SELECT count(*) FROM writes")  # like reading existing bumps first
                scan_has_read.set()
                portal_begins.wait(timeout=30)
                portal_done.wait(timeout=WINDOW_SECONDS)
                cursor.execute("INSERT INTO writes (writer) VALUES ('scan')")
        except BaseException as error:  # noqa: BLE001 - returned and asserted by the test
            errors["scan"] = error
        finally:
            scan_has_read.set()
            connections[ALIAS].close()

    def portal() -> None:
        try:
            scan_has_read.wait(timeout=30)
            portal_begins.set()
            with transaction.atomic(using=ALIAS), connections[ALIAS].cursor() as cursor:
                cursor.execute("INSERT INTO writes (writer) VALUES ('portal')")
        except BaseException as error:  # noqa: BLE001 - returned and asserted by the test
            errors["portal"] = error
        finally:
            portal_done.set()
            connections[ALIAS].close()

    threads = [threading.Thread(target=scan), threading.Thread(target=portal)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def written() -> list[str]:
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("SELECT writer FROM writes ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


@JOURNAL_MODES
def test_deferred_transactions_fail_a_read_then_write_with_database_is_locked(tmp_path, sqlite_database,
                                                                               journal_mode):
    """What the embedded settings had before: the scan fails though the busy timeout is 30 seconds."""
    sqlite_database(sqlite_config(tmp_path, immediate=False, journal_mode=journal_mode))

    errors = scan_and_portal_write_concurrently()

    assert errors["portal"] is None
    assert isinstance(errors["scan"], OperationalError)
    assert "database is locked" in str(errors["scan"])
    assert written() == ["portal"]


@JOURNAL_MODES
def test_immediate_transactions_make_the_second_writer_wait_instead_of_failing(tmp_path, sqlite_database,
                                                                               journal_mode):
    config = sqlite_config(tmp_path, immediate=True, journal_mode=journal_mode)
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    sqlite_database(config)

    errors = scan_and_portal_write_concurrently()

    assert errors == {"scan": None, "portal": None}
    # The portal's write waited for the scan's whole transaction, instead of slipping in between.
    assert written() == ["scan", "portal"]


def test_the_embedded_database_runs_in_wal_mode_with_normal_sync(tmp_path, sqlite_database):
    sqlite_database(sqlite_config(tmp_path, immediate=True))

    with connections[ALIAS].cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal_mode = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous")
        synchronous = cursor.fetchone()[0]

    assert (journal_mode, synchronous) == ("wal", 1)  # 1 is NORMAL
