"""Keyset pages of a run history for the portal: newest first, ``?before=``/``?after=`` a run's
``(queued_at, id)``, so that page 400 reads 20 index entries like page 1 does and a run queued meanwhile
does not shift what "older" shows. ``?page=N`` alone still works (by offset), for links made before."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import TupleGreaterThan, TupleLessThan


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)


def _cursor(run) -> str:
    # Integer microseconds: exact, unlike a float timestamp, so the run on the page edge is never repeated.
    return f"{(run.queued_at - EPOCH) // MICROSECOND}.{run.pk}"


def _parse(value: str | None):
    """``(queued_at, id)`` of a cursor, or None for a missing or mangled one (then: the first page)."""
    try:
        micros, pk = (int(part) for part in (value or "").split("."))
        return EPOCH + micros * MICROSECOND, pk
    except (ValueError, OverflowError, OSError):
        return None


@dataclass
class KeysetPage:
    object_list: list
    number: int
    num_pages: int
    older_query: str | None
    newer_query: str | None

    @property
    def has_next(self) -> bool:
        return self.older_query is not None

    @property
    def has_previous(self) -> bool:
        return self.newer_query is not None


def keyset_page(runs: QuerySet, params, per_page: int) -> KeysetPage:
    """One page of ``runs`` (any filter; ordered here) from the request's query ``params``.

    The edge is one row comparison, ``(queued_at, id) < (stamp, pk)``: PostgreSQL reads it as a range of the
    (repository, queued_at, id) index and stops after a page. Spelled as ``queued_at <= stamp AND (queued_at <
    stamp OR id < pk)`` it was estimated at a handful of rows (the OR's selectivity times the range's, which
    assumes a history's times are spread like the whole table's), fetched through a bitmap and sorted: 12,000
    runs for page 400 of a 20,000-run history, 13 ms instead of 0.1."""
    # Counting one repository's runs is an index-only scan; it keeps "Page 3 of 40" meaningful.
    total = runs.count()
    num_pages = max(1, math.ceil(total / per_page))
    before, after = _parse(params.get("before")), _parse(params.get("after"))
    try:
        number = min(max(1, int(params.get("page", 1))), num_pages)
    except ValueError:
        number = 1
    if before:
        stamp, pk = before
        rows = list(runs.filter(TupleLessThan((F("queued_at"), F("id")), (stamp, pk)))
                    .order_by("-queued_at", "-id")[:per_page + 1])
        more_older, more_newer = len(rows) > per_page, True
        rows = rows[:per_page]
    elif after:
        stamp, pk = after
        rows = list(runs.filter(TupleGreaterThan((F("queued_at"), F("id")), (stamp, pk)))
                    .order_by("queued_at", "id")[:per_page + 1])
        more_newer, more_older = len(rows) > per_page, True
        rows = rows[:per_page][::-1]
    else:
        # No cursor: the first page, or an old ``?page=N`` link served by offset.
        page = Paginator(runs.order_by("-queued_at", "-id"), per_page).get_page(number)
        rows, number = list(page.object_list), page.number
        more_older, more_newer = page.has_next(), page.has_previous()
    if not more_newer:
        number = 1
    older = urlencode({"page": min(number + 1, num_pages), "before": _cursor(rows[-1])}) \
        if rows and more_older else None
    if more_newer and rows:
        newer = "" if number <= 2 else urlencode({"page": number - 1, "after": _cursor(rows[0])})
    else:
        newer = None
    return KeysetPage(rows, number, num_pages, older, newer)
