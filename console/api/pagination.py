"""Run histories page by cursor: newest first, stable while runs are added, and as fast deep in the history as
on its first page (no OFFSET to walk, no COUNT of a million runs)."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class RunHistoryPagination(CursorPagination):
    # Served by the (queued_at DESC, id DESC) indexes: the cursor holds the last queued_at seen, and DRF's
    # offset inside the cursor steps over runs sharing it, which -id keeps in one order.
    ordering = ("-queued_at", "-id")
    page_size = 50
    cursor_query_description = "The pagination cursor: follow `next` and `previous`, never build one."
