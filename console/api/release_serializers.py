"""Shapes of the release endpoints (issue #12): sync schedules, pins."""

from __future__ import annotations

from rest_framework import serializers

from console.models import NotificationTarget, TagPolicyKind


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


class TagPolicySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    repository = serializers.IntegerField(source="repository_id", help_text="the infra repository's id")
    kind = serializers.ChoiceField(choices=TagPolicyKind.choices, default=TagPolicyKind.SEMVER)
    constraint = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    pattern = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    include_prereleases = serializers.BooleanField(default=False)
    auto_bump = serializers.BooleanField(default=False)
    selected_tag = serializers.CharField(read_only=True)
    selected_at = serializers.DateTimeField(read_only=True, allow_null=True)
    outcome = serializers.CharField(read_only=True)


class WatchedImageSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    repository = serializers.CharField(max_length=255, help_text="the image repository in the registry")
    reference = serializers.CharField(read_only=True, help_text="registry host and path, as infra repositories write it")
    last_checked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_error_code = serializers.CharField(read_only=True)
    last_error = serializers.CharField(read_only=True)
    policies = TagPolicySerializer(many=True, read_only=True)


class ContainerRegistrySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    project = serializers.IntegerField(source="project_id", read_only=True)
    name = serializers.CharField(max_length=40)
    url = serializers.CharField(max_length=500)
    username = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    token = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="", write_only=True,
                                  help_text="write-only; encrypted at rest")
    token_is_set = serializers.BooleanField(read_only=True)
    images = serializers.ListField(child=serializers.CharField(max_length=255), required=False, default=list,
                                   write_only=True, help_text="image repositories to watch, e.g. team/app")
    watched_images = WatchedImageSerializer(source="images.all", many=True, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class ContainerRegistryUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500)
    username = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    token = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="", write_only=True,
                                  help_text="write-only; empty keeps the stored token")
    drop_token = serializers.BooleanField(default=False, help_text="forget the stored token")


class RegistryWatchRunSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    registry = serializers.IntegerField(source="registry_id", read_only=True)
    status = serializers.CharField(read_only=True)
    trigger = serializers.CharField(read_only=True)
    queued_at = serializers.DateTimeField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    error_code = serializers.CharField(read_only=True)
    error_message = serializers.CharField(read_only=True)
    result = serializers.JSONField(read_only=True)


class LedgerStepSerializer(serializers.DictField):
    child = serializers.JSONField()


class LedgerSerializer(serializers.Serializer):
    image = serializers.CharField()
    tag = serializers.CharField()
    steps = serializers.ListField(child=LedgerStepSerializer(), help_text="oldest first: step, at, details, "
                                  "since_previous_seconds")
    total_seconds = serializers.FloatField(allow_null=True)
    commit_to_running_seconds = serializers.FloatField(allow_null=True, help_text="from the first commit to the "
                                                       "last step where the image was seen running")
    running = serializers.BooleanField(allow_null=True, help_text="whether read-back saw the tag running "
                                       "(null: no deployment provider is configured)")
    deployments_known = serializers.BooleanField(help_text="false: no deployment read-back is configured")


class InventoryRowSerializer(serializers.Serializer):
    organization = serializers.CharField(source="repository.project.organization.slug")
    project = serializers.CharField(source="repository.project.slug")
    repository = serializers.CharField(source="repository.name")
    repository_id = serializers.IntegerField()
    image = serializers.CharField()
    tag = serializers.CharField()
    digest = serializers.CharField()
    file = serializers.CharField()
    location = serializers.CharField()
    commit_sha = serializers.CharField()


class NotificationTargetSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=NotificationTarget.Kind.choices)
    url = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    emails = serializers.ListField(child=serializers.CharField(max_length=254), required=False, default=list)
    events = serializers.ListField(child=serializers.CharField(max_length=40), required=False, default=list,
                                   help_text="empty: every event")
    enabled = serializers.BooleanField(read_only=True)
    # No `secret` field: the model has one, and a read-only field would serialize it. The creation answer
    # adds it (once); NotificationTargetCreatedSerializer documents that answer.


class NotificationTargetUpdateSerializer(serializers.Serializer):
    events = serializers.ListField(child=serializers.CharField(max_length=40), required=False, default=list,
                                   help_text="empty: every event")
    enabled = serializers.BooleanField(default=True)


class NotificationTargetCreatedSerializer(NotificationTargetSerializer):
    secret = serializers.CharField(required=False, help_text="webhooks: the HMAC key, in this answer only")


class NotificationDeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    target = serializers.IntegerField(source="target_id", read_only=True)
    event = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    attempts = serializers.IntegerField(read_only=True)
    response_status = serializers.IntegerField(read_only=True, allow_null=True)
    error = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    delivered_at = serializers.DateTimeField(read_only=True, allow_null=True)


class MergeRequestSettingsSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(default=True)
    gitlab_url = serializers.CharField(max_length=500)
    project_path = serializers.CharField(max_length=500)
