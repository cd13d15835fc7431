"""Serializers shape input and output only; rules live in models and services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from console.api.fast_read import DirectColumns
from console.models import (
    Membership, Organization, Project, ProvisioningRun, RefChange, Repository, RunStatus, SyncRun,
)
from console.models.validators import DESCRIPTION_MAX_LENGTH, validate_display_name


class QuotaSerializer(serializers.Serializer):
    """A project's quota (or an organization's limits). Quantities are checked by the model, which answers
    with the resource and the limit; on input every resource is optional (the platform default stays)."""

    cpu = serializers.CharField(required=False, max_length=40, help_text="Kubernetes quantity, e.g. 4 or 1500m")
    memory = serializers.CharField(required=False, max_length=40, help_text="Kubernetes quantity, e.g. 8Gi")
    storage = serializers.CharField(required=False, max_length=40, help_text="Kubernetes quantity, e.g. 50Gi")
    pods = serializers.IntegerField(required=False)
    services = serializers.IntegerField(required=False)


class OrganizationSerializer(serializers.ModelSerializer):
    # Set by platform admins (admin site); what any one project of the organization may ask for at most.
    quota_limits = QuotaSerializer(read_only=True)

    class Meta:
        model = Organization
        fields = ["id", "slug", "name", "quota_limits", "created_at"]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {"slug": {"validators": []}, "name": {"required": False}}


class OrganizationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, validators=[validate_display_name])


class ProvisioningRunSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    # Why: the first request's cause, every cause the run serves (joined requests too), and a readable line.
    cause_summary = serializers.CharField(read_only=True)
    causes = serializers.SerializerMethodField()

    class Meta:
        model = ProvisioningRun
        fields = [
            "id", "project", "action", "cause", "causes", "cause_summary", "trigger", "actor", "trigger_detail",
            "status", "queued_at", "started_at",
            "finished_at", "duration_seconds", "attempts", "joined_requests", "error_code", "error_message",
            "result",
        ]
        read_only_fields = fields

    def get_causes(self, run) -> list[dict]:
        # The rest of an entry is the worker's bookkeeping (what to archive), not part of the API.
        return [{"cause": entry.get("cause"), "subject": entry.get("subject", "")} for entry in run.causes or []]


class ProjectLockSerializer(serializers.Serializer):
    """Who locked the project, since when and why (null when it is not locked)."""

    locked_at = serializers.DateTimeField()
    locked_by = serializers.CharField(allow_null=True)
    reason = serializers.CharField()


class ProjectLockRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="",
                                   help_text="Why the project is locked; shown to its members and in every refusal")


class ProjectSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", queryset=Organization.objects.all())
    quota = QuotaSerializer(required=False)
    locked = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "organization", "slug", "name", "description", "status", "namespace", "quota",
                  "locked", "created_at", "updated_at"]
        read_only_fields = ["id", "status", "namespace", "created_at", "updated_at"]
        # Uniqueness is checked by the service, which answers with one clear message.
        validators = []
        extra_kwargs = {"slug": {"validators": []}, "name": {"required": False}}


    @extend_schema_field(ProjectLockSerializer(allow_null=True))
    def get_locked(self, project) -> dict | None:
        if project.locked_at is None:
            return None
        return {"locked_at": serializers.DateTimeField().to_representation(project.locked_at),
                "locked_by": project.locked_by.get_username() if project.locked_by_id and project.locked_by else None,
                "reason": project.lock_reason}


class ProjectUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, validators=[validate_display_name])
    description = serializers.CharField(required=False, allow_blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    quota = QuotaSerializer(required=False, help_text="Changing it re-provisions the project")


class ProjectCreatedSerializer(ProjectSerializer):
    provisioning_run = serializers.SerializerMethodField()

    class Meta(ProjectSerializer.Meta):
        fields = ProjectSerializer.Meta.fields + ["provisioning_run"]

    def get_provisioning_run(self, project) -> dict:
        return ProvisioningRunSerializer(self.context["provisioning_run"]).data


class RepositorySerializer(serializers.ModelSerializer):
    # Write-only: the token is never returned, only whether one is set.
    token = serializers.CharField(write_only=True, required=False, allow_blank=True, style={"input_type": "password"})
    token_is_set = serializers.BooleanField(read_only=True)
    deploy_kind = serializers.ChoiceField(choices=["", "helm", "kustomize"], required=False, allow_blank=True)
    helm_value_files = serializers.ListField(child=serializers.CharField(), required=False)
    last_sync = serializers.SerializerMethodField()

    class Meta:
        model = Repository
        fields = [
            "id", "project", "name", "external_url", "is_private", "username", "token", "token_is_set",
            "is_infra", "deploy_kind", "deploy_path", "deploy_revision", "helm_value_files", "internal_path",
            "internal_url", "default_branch", "image_name", "created_at", "last_sync",
        ]
        read_only_fields = ["id", "project", "internal_path", "internal_url", "default_branch", "created_at"]
        validators = []
        extra_kwargs = {
            "name": {"validators": []},
            # Not trimmed: a URL with stray whitespace is refused by the service, as through the portal.
            "external_url": {"validators": [], "trim_whitespace": False},
            "deploy_path": {"validators": []},
        }

    def get_last_sync(self, repository) -> dict | None:
        # Filled by selectors.with_last_sync() so a list costs the same number of queries at any size.
        run_id = getattr(repository, "last_sync_id", None)
        if run_id is None:
            return None
        return {"id": run_id, "status": repository.last_sync_status, "finished_at": repository.last_sync_finished_at,
                "image_scan_status": repository.last_sync_image_scan_status}


class RepositoryUpdateSerializer(RepositorySerializer):
    class Meta(RepositorySerializer.Meta):
        read_only_fields = RepositorySerializer.Meta.read_only_fields + ["name"]
        extra_kwargs = {**RepositorySerializer.Meta.extra_kwargs,
                        "external_url": {"validators": [], "required": False, "trim_whitespace": False}}


class RefChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = RefChange
        fields = ["ref", "kind", "old_sha", "new_sha"]


@extend_schema_field(RefChangeSerializer(many=True))
class RefChangesField(serializers.Field):
    """A run's ref changes as RefChangeSerializer gives them, built directly: a page of 50 runs carries
    hundreds of them, and a nested serializer per change was a third of the history's serving time."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, changes):
        if changes.instance.status == RunStatus.QUEUED:
            return []  # recorded only by a running attempt: a queued run (every trigger's answer) has none
        return [{"ref": c.ref, "kind": c.kind, "old_sha": c.old_sha, "new_sha": c.new_sha} for c in changes.all()]


class RunUrlField(serializers.HyperlinkedIdentityField):
    """The detail URL of each run of a page, reversed once per page and filled in with each id (a reverse
    per run costs as much as the rest of the run's fields)."""

    PLACEHOLDER = 999999999

    def get_url(self, obj, view_name, request, format):
        if obj.pk is None:
            return None
        cache = self.parent.context if self.parent is not None else {}
        key = ("run_url_template", view_name, format)
        if key not in cache:
            cache[key] = reverse(view_name, kwargs={self.lookup_url_kwarg: self.PLACEHOLDER}, request=request,
                                 format=format).replace(str(self.PLACEHOLDER), "{}", 1)
        return cache[key].format(obj.pk)


class SyncRunSerializer(DirectColumns, serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    ref_changes = RefChangesField()
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    url = RunUrlField(view_name="api:syncrun-detail")

    class Meta:
        model = SyncRun
        fields = [
            "id", "url", "repository", "trigger", "actor", "trigger_detail", "status", "queued_at", "started_at",
            "finished_at", "duration_seconds", "attempts", "joined_requests", "head_sha", "error_code",
            "error_message", "ref_changes", "image_scan_status", "image_scan",
        ]
        read_only_fields = fields


class SyncRunDetailSerializer(SyncRunSerializer):
    redeploy_warnings = serializers.SerializerMethodField()

    class Meta(SyncRunSerializer.Meta):
        fields = SyncRunSerializer.Meta.fields + ["redeploy_warnings"]
        read_only_fields = fields

    def get_redeploy_warnings(self, run) -> list[dict]:
        """Images of the run's project that were built but not bumped: nothing will redeploy them."""
        from console.api.image_serializers import RedeployWarningSerializer
        from console.services.images import redeploy_warnings

        return RedeployWarningSerializer(redeploy_warnings(run.repository.project), many=True).data


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    scope = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "scope", "source", "created_at"]
        read_only_fields = ["id", "scope", "source", "created_at"]

    def get_scope(self, membership) -> str:
        return "project" if membership.project_id else "organization"


class MembershipWriteSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.CharField()


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    name = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                 help_text="what will use the token, to recognise it in the token list")


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class ArgoCdCredentialsSerializer(serializers.Serializer):
    url_prefix = serializers.CharField()
    username = serializers.CharField()
    password = serializers.CharField()
    kind = serializers.CharField()
