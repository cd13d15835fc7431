"""Run histories page by cursor: newest first, stable while runs are added, and as fast deep in the history as
on its first page (no OFFSET to walk, no COUNT of a million runs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import DateTimeField
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination


@dataclass(frozen=True)
class HistoryWindow:
    """What one page of a history reads, as the cursor says: runs queued before (or, paging back, after)
    ``position``, the first ``limit`` of them in that direction. A page is within the union of each
    repository's own first ``limit`` runs under the same bounds, which is what lets a member's history be
    read repository by repository off the (repository, queued_at, id) index."""

    position: datetime | None
    newest_first: bool
    limit: int


class RunHistoryPagination(CursorPagination):
    # Served by the (queued_at DESC, id DESC) indexes: the cursor holds the last queued_at seen, and DRF's
    # offset inside the cursor steps over runs sharing it, which -id keeps in one order.
    ordering = ("-queued_at", "-id")
    page_size = 50
    cursor_query_description = "The pagination cursor: follow `next` and `previous`, never build one."

    def window(self, request) -> HistoryWindow | None:
        """The bounds ``paginate_queryset`` will apply for this request (None: not paginated)."""
        if getattr(self, "_window_request", None) is not request:
            self._window_request, self._window = request, self._read_window(request)
        return self._window

    def _read_window(self, request) -> HistoryWindow | None:
        page_size = self.get_page_size(request)
        if not page_size:
            return None
        cursor = self.decode_cursor(request)
        offset, reverse, position = cursor if cursor is not None else (0, False, None)
        return HistoryWindow(position=_position(position), newest_first=not reverse,
                             limit=offset + page_size + 1)

    def paginate_queryset(self, queryset, request, view=None):
        self.window(request)  # a cursor whose position is not a time is refused like any mangled cursor
        return super().paginate_queryset(queryset, request, view)


def _position(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        position = DateTimeField().to_python(value)
    except ValidationError:
        position = None
    if position is None:
        # A cursor is opaque but only base64: one built by hand with a position that is no time would
        # otherwise reach the database as a filter value and fail there (a 500, not a 404).
        raise NotFound(CursorPagination.invalid_cursor_message)
    return position
