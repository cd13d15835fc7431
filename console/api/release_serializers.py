"""Shapes of the release endpoints (issue #12): sync schedules, pins."""

from __future__ import annotations

from rest_framework import serializers


class SyncScheduleSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    interval_seconds = serializers.IntegerField(allow_null=True, required=False,
                                                help_text="empty with enabled=true: the platform default")
    next_at = serializers.DateTimeField(read_only=True, allow_null=True)
    failure_streak = serializers.IntegerField(read_only=True)
    backing_off = serializers.BooleanField(read_only=True)
    backoff_seconds = serializers.IntegerField(read_only=True, allow_null=True)
    minimum_seconds = serializers.IntegerField(read_only=True)
    default_seconds = serializers.IntegerField(read_only=True)
