"""Support for the real-browser portal test: Chromium's launch settings and an in-process task worker.

The worker stands in for Celery: `console.services.run_kinds.enqueue` (stood in per kind) hands it run ids, and a
single background thread runs the real `sync_execute` / `provisioning_execute` for each, a fixed delay after
it was enqueued, one at a time (like a worker with concurrency 1). The delay keeps a run queued long enough
for a browser to see the queued → running → finished transitions.

Database connections: on PostgreSQL (or a file SQLite) the thread opens its own connection and closes it
after every task, so nothing is left open when the test database is flushed or dropped. With SQLite's
in-memory test database a second connection would use shared-cache table locks, which fail at once instead
of waiting; the thread therefore shares the test's connection, exactly as Django's live server thread does.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class TaskWorker:
    """Runs enqueued sync and provisioning runs in one background thread, `delay` seconds after enqueueing."""

    def __init__(self, *, delay: float = 1.5):
        from django.db import connections

        self.delay = delay
        self.errors: list[BaseException] = []
        self.executed: list[tuple[str, int]] = []
        self._queue: queue.Queue = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._shared = None
        default = connections["default"]
        if default.vendor == "sqlite" and default.is_in_memory_db():
            self._shared = default
        self._thread = threading.Thread(target=self._run, name="browser-test-worker", daemon=True)

    # What the patched console.tasks functions call (from on_commit callbacks, any thread).
    def enqueue_sync(self, run_id: int) -> None:
        self._put("sync", run_id)

    def enqueue_provisioning(self, run_id: int) -> None:
        self._put("provisioning", run_id)

    def _put(self, kind: str, run_id: int) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put((kind, run_id, time.monotonic() + self.delay))

    def start(self) -> TaskWorker:
        if self._shared is not None:
            self._shared.inc_thread_sharing()
        self._thread.start()
        return self

    def wait_idle(self, timeout: float) -> None:
        """Block until every enqueued task (and any it enqueued in turn) has run."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._pending} task(s) still pending after {timeout} s")
                self._idle.wait(left)
        self.raise_errors()

    def raise_errors(self) -> None:
        if self.errors:
            raise AssertionError(f"a background task failed: {self.errors[0]!r}") from self.errors[0]

    def stop(self, timeout: float = 30) -> None:
        self._queue.put(None)
        self._thread.join(timeout)
        if self._shared is not None:
            self._shared.dec_thread_sharing()
        if self._thread.is_alive():
            raise AssertionError("the background worker thread did not stop")

    def _run(self) -> None:
        from django.db import connection, connections

        if self._shared is not None:
            connections["default"] = self._shared
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                kind, run_id, due = item
                time.sleep(max(0.0, due - time.monotonic()))
                try:
                    self._execute(kind, run_id)
                    self.executed.append((kind, run_id))
                except BaseException as error:  # noqa: BLE001 - reported by wait_idle / the fixture
                    self.errors.append(error)
                finally:
                    connection.close()  # a no-op on the shared in-memory SQLite connection
                    with self._idle:
                        self._pending -= 1
                        self._idle.notify_all()
        finally:
            connection.close()

    @staticmethod
    def _execute(kind: str, run_id: int) -> None:
        task_id = f"browser-{kind}-{run_id}-{uuid.uuid4().hex[:8]}"
        execute: Callable[..., None]
        if kind == "sync":
            from console.services.syncs import sync_execute as execute
        else:
            from console.services.provisioning import provisioning_execute as execute
        execute(run_id=run_id, task_id=task_id)
