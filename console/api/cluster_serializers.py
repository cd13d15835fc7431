"""Clusters in the API: the token is write-only (never returned; ``token_is_set`` says whether one is)."""

from __future__ import annotations

from rest_framework import serializers

from console.models import Cluster


class ClusterSerializer(serializers.ModelSerializer):
    token = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=True,
                                  style={"input_type": "password"},
                                  help_text="service-account token; write-only, omit to keep the stored one")
    token_is_set = serializers.BooleanField(read_only=True)
    projects = serializers.IntegerField(read_only=True, source="project_count", default=0,
                                        help_text="how many projects are placed on it explicitly")

    class Meta:
        model = Cluster
        fields = ["id", "name", "api_url", "ca_bundle", "token", "token_is_set", "argocd_namespace", "argocd_url",
                  "delivery_mode", "self_heal", "is_default", "insecure_skip_tls_verify", "projects", "created_at",
                  "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness and every other rule are checked once, by the model through the service (which also moves
        # the default mark instead of refusing a second default).
        validators = []
        extra_kwargs = {"name": {"validators": []}, "is_default": {"validators": []}}


class ConnectionReportSerializer(serializers.Serializer):
    cluster = serializers.CharField()
    ok = serializers.BooleanField()
    reachable = serializers.BooleanField()
    server_version = serializers.CharField()
    api_groups = serializers.ListField(child=serializers.CharField())
    missing_api_groups = serializers.ListField(child=serializers.CharField())
    missing_permissions = serializers.ListField(child=serializers.CharField())
    error = serializers.CharField(allow_blank=True)
    error_code = serializers.CharField(allow_blank=True)


class ProjectClusterSerializer(serializers.Serializer):
    cluster = serializers.PrimaryKeyRelatedField(queryset=Cluster.objects.all(), allow_null=True,
                                                 help_text="the cluster id; null: the platform default")


class ArchiveSerializer(serializers.Serializer):
    delete_namespace = serializers.BooleanField(
        default=False, help_text="direct delivery: also delete the namespace and everything in it")
