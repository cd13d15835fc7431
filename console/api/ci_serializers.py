"""Shapes for CI tokens, CI settings and CI sync requests. Secrets and hashes never appear in lists."""

from __future__ import annotations

from rest_framework import serializers

from console.models import CiToken


class CiTokenSerializer(serializers.ModelSerializer):
    scopes = serializers.ListField(child=serializers.CharField(), read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = CiToken
        fields = ["id", "repository", "name", "prefix", "scopes", "created_by", "created_at", "expires_at",
                  "revoked_at", "last_used_at", "is_active"]
        read_only_fields = fields


class CiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    # Checked by the model (one rule for API, portal and admin); only the shape is checked here.
    scopes = serializers.ListField(
        child=serializers.CharField(max_length=40), max_length=10, required=False,
        help_text="what the token may do, among: sync, report_build, bump (default: [\"sync\"])",
    )


class CiTokenCreatedSerializer(CiTokenSerializer):
    secret = serializers.SerializerMethodField(help_text="shown once: store it as a masked CI/CD variable")

    class Meta(CiTokenSerializer.Meta):
        fields = CiTokenSerializer.Meta.fields + ["secret"]
        read_only_fields = fields

    def get_secret(self, token) -> str:
        return self.context["secret"]


class CiSyncRequestSerializer(serializers.Serializer):
    """What a pipeline may say about itself; recorded on the run, bounded, never trusted for access."""

    pipeline_id = serializers.RegexField(r"^[0-9]{1,20}$", required=False, allow_blank=True)
    job_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    commit_sha = serializers.RegexField(r"^[0-9a-fA-F]{7,64}$", required=False, allow_blank=True)

    def to_internal_value(self, data):
        # GitLab's CI_PIPELINE_ID arrives as a number in JSON bodies.
        if hasattr(data, "get") and isinstance(data.get("pipeline_id"), int):
            data = {**data, "pipeline_id": str(data["pipeline_id"])}
        return super().to_internal_value(data)


class CiSettingsSerializer(serializers.Serializer):
    ci_allowed_project_paths = serializers.ListField(
        child=serializers.CharField(max_length=400), max_length=100, required=False,
        help_text="'<trusted GitLab instance name>:<group/project>', or a bare 'group/project' while a single "
                  "instance is trusted",
    )
    ci_protected_refs_only = serializers.BooleanField(required=False)
    webhook_secret_is_set = serializers.SerializerMethodField()

    def get_webhook_secret_is_set(self, repository) -> bool:
        return bool(repository.webhook_secret)


class WebhookSecretSerializer(serializers.Serializer):
    webhook_secret = serializers.CharField(help_text="shown once: paste it into the forge's webhook settings")
