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


class ImagePinSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(read_only=True)
    refusal = serializers.CharField(read_only=True, help_text="what a refused bump is told while the pin holds")

    class Meta:
        from console.models import ImagePin

        model = ImagePin
        fields = ["id", "repository", "image", "tag", "reason", "pinned_by_label", "pinned_at", "bump", "active",
                  "refusal", "unpinned_at", "unpinned_by_label", "unpin_reason"]
        read_only_fields = fields


class ImagePinRequestSerializer(serializers.Serializer):
    image = serializers.CharField(max_length=500)
    tag = serializers.CharField(max_length=128)
    reason = serializers.CharField(max_length=500)


class ImageUnpinRequestSerializer(serializers.Serializer):
    image = serializers.CharField(max_length=500)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RollbackRequestSerializer(ImagePinRequestSerializer):
    file = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    location = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RollbackSerializer(serializers.Serializer):
    pin = ImagePinSerializer()
    bump = serializers.SerializerMethodField()

    def get_bump(self, result) -> dict:
        from console.api.image_serializers import ImageBumpSerializer

        return ImageBumpSerializer(result["bump"]).data
