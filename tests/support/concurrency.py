"""Run one call from many threads at the same instant, the way concurrent requests hit the console."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
from django.db import connection

T = TypeVar("T")


def skip_on_sqlite() -> None:
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers with a file lock; the race needs a server database")


def run_concurrently(call: Callable[[int], T], count: int) -> list[T]:
    """Call ``call(n)`` for n in range(count), all released together; each thread closes its connection."""
    results: list[T] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def worker(number: int) -> None:
        try:
            barrier.wait()
            results.append(call(number))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results
