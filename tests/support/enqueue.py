"""Stand in for the broker, per run kind: services send runs through console.services.run_kinds.enqueue."""

from __future__ import annotations

from collections.abc import Callable


def stand_in(monkeypatch, kind: str, handler: Callable[..., object]) -> None:
    """Hand runs of ``kind`` to ``handler`` instead of the broker; other kinds keep what they had.

    ``handler`` is called as before the run-kinds table: ``handler(run_id)``, or ``handler(run_id,
    task_id=...)`` when the sweeper hands a run to a new task."""
    from console.services import run_kinds

    previous = run_kinds.enqueue

    def enqueue(name: str, run_id: int, *, task_id: str | None = None) -> None:
        if name != kind:
            return previous(name, run_id, task_id=task_id)
        if task_id is None:
            handler(run_id)
        else:
            handler(run_id, task_id=task_id)

    monkeypatch.setattr(run_kinds, "enqueue", enqueue)
