"""What actually runs (Argo CD read back per infra repository), drift, and the on-demand refresh."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from console import selectors
from console.authorization import authorize
from console.models import AuditEvent, BumpRollout, Deployment, DriftRecord, Project, Trigger
from console.services.actors import Actor
from console.services.errors import DomainError
from console.services.readback import readback_refresh_request

ROLLOUTS_SHOWN_DAYS = 7


class RolloutSerializer(serializers.ModelSerializer):
    bump = serializers.IntegerField(source="bump_id")
    image = serializers.CharField(source="bump.image")
    tag = serializers.CharField(source="bump.tag")
    commit_sha = serializers.CharField(source="bump.commit_sha")

    class Meta:
        model = BumpRollout
        fields = ["bump", "image", "tag", "commit_sha", "status", "message", "synced_revision", "changed_at",
                  "running_image", "running_at"]
        read_only_fields = fields


class DeploymentSerializer(serializers.ModelSerializer):
    repository_name = serializers.CharField(source="repository.name")
    argocd_link = serializers.CharField()
    unreachable = serializers.BooleanField()
    rollouts = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = ["id", "repository", "repository_name", "cluster_name", "application", "argocd_namespace",
                  "argocd_link", "found", "sync_status", "health_status", "health_message", "synced_revision",
                  "operation_phase", "operation_message", "images", "unreachable", "error_code", "error_message",
                  "observed_at", "checked_at", "changed_at", "rollouts"]
        read_only_fields = fields

    def get_rollouts(self, deployment) -> RolloutSerializer(many=True):
        rollouts = self.context.get("rollouts", {}).get(deployment.repository_id, [])
        return RolloutSerializer(rollouts, many=True).data


class DriftRecordSerializer(serializers.ModelSerializer):
    reason_label = serializers.CharField(source="get_reason_display")
    open = serializers.SerializerMethodField()

    class Meta:
        model = DriftRecord
        fields = ["id", "source", "api_version", "kind", "namespace", "name", "reason", "reason_label", "field_paths",
                  "detail", "first_seen", "last_seen", "resolved_at", "open", "correction_run"]
        read_only_fields = fields

    def get_open(self, record) -> bool:
        return record.resolved_at is None


def viewable_project(request, pk: int) -> Project:
    project = get_object_or_404(selectors.projects_visible_to(request.user), pk=pk)
    authorize(Actor.for_user(request.user, AuditEvent.Interface.API), "project.view", project)
    return project


class ProjectDeploymentsView(generics.ListAPIView):
    """Per infra repository: what Argo CD last reported (sync, health, synced revision, operation, running
    images), with a deep link to the Argo CD UI and the recent bumps followed to the cluster."""

    serializer_class = DeploymentSerializer

    def get_queryset(self):
        project = viewable_project(self.request, self.kwargs["pk"])
        return Deployment.objects.filter(project=project).select_related("repository").order_by("application", "pk")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["rollouts"] = getattr(self, "_rollouts", {})
        return context

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        # One query for the rollouts of the whole page.
        since = timezone.now() - timedelta(days=ROLLOUTS_SHOWN_DAYS)
        grouped = defaultdict(list)
        for rollout in (BumpRollout.objects.filter(bump__repository_id__in=[d.repository_id for d in page],
                                                   created_at__gte=since)
                        .select_related("bump").order_by("-bump_id")):
            grouped[rollout.bump.repository_id].append(rollout)
        self._rollouts = grouped
        return page


DRIFT_STATES = ("open", "resolved", "all")


class ProjectDriftView(generics.ListAPIView):
    """Objects that differ from what the console renders (open by default; `?state=resolved|all`)."""

    serializer_class = DriftRecordSerializer

    def get_queryset(self):
        project = viewable_project(self.request, self.kwargs["pk"])
        state = self.request.query_params.get("state") or "open"
        if state not in DRIFT_STATES:
            raise DomainError(f"state must be one of {', '.join(DRIFT_STATES)}", code="invalid_state")
        records = DriftRecord.objects.filter(project=project)
        if state == "open":
            records = records.filter(resolved_at__isnull=True)
        elif state == "resolved":
            records = records.filter(resolved_at__isnull=False)
        return records.order_by("-last_seen", "-id")

    @extend_schema(parameters=[OpenApiParameter("state", str, enum=list(DRIFT_STATES))])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RefreshAcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class ProjectRefreshView(APIView):
    """Read the project's Applications, quota and drift back now (202; the read-back task does it)."""

    @extend_schema(request=None, responses={202: RefreshAcceptedSerializer})
    def post(self, request, pk: int):
        project = get_object_or_404(selectors.projects_visible_to(request.user), pk=pk)
        readback_refresh_request(actor=Actor.for_user(request.user, AuditEvent.Interface.API), project=project,
                                 trigger=Trigger.API)
        return Response({"detail": "read-back queued", "code": "refresh_queued"}, status=status.HTTP_202_ACCEPTED)
