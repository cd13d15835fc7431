"""Clusters (platform admins only) and moving a project between them. Thin: every rule is in
console.services.clusters; each handler authorizes before reading the body."""

from __future__ import annotations

from django.db.models import Count
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from console.api import cluster_serializers as cs
from console.api.serializers import ProvisioningRunSerializer
from console.authorization import authorize
from console.models import AuditEvent, Cluster
from console.services.actors import Actor
from console.services.clusters import (
    cluster_register,
    cluster_remove,
    cluster_test_connection,
    cluster_update,
)


def _actor(request) -> Actor:
    return Actor.for_user(request.user, AuditEvent.Interface.API)


class ClusterViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = cs.ClusterSerializer
    queryset = Cluster.objects.none()
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Platform admins only, for every method: checked before any lookup or body, so others get 403.
        authorize(_actor(request), "cluster.manage", None)

    def get_queryset(self):
        return Cluster.objects.annotate(project_count=Count("projects")).order_by("name")

    @extend_schema(request=cs.ClusterSerializer, responses={201: cs.ClusterSerializer})
    def create(self, request):
        form = cs.ClusterSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        cluster = cluster_register(actor=_actor(request), **form.validated_data)
        return Response(cs.ClusterSerializer(self.get_queryset().get(pk=cluster.pk)).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=cs.ClusterSerializer, responses=cs.ClusterSerializer)
    def partial_update(self, request, pk=None):
        cluster = self.get_object()
        form = cs.ClusterSerializer(cluster, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        cluster = cluster_update(actor=_actor(request), cluster=cluster, **form.validated_data)
        return Response(cs.ClusterSerializer(self.get_queryset().get(pk=cluster.pk)).data)

    def destroy(self, request, pk=None):
        cluster_remove(actor=_actor(request), cluster=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=cs.ConnectionReportSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Connect with the stored token: server version, API groups, and the permissions it lacks."""
        report = cluster_test_connection(actor=_actor(request), cluster=self.get_object())
        return Response(report, headers={"Cache-Control": "no-store"})


def project_move_cluster_response(request, project):
    from console.services.clusters import project_move_cluster

    authorize(_actor(request), "project.move_cluster", project)
    form = cs.ProjectClusterSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    queued = project_move_cluster(actor=_actor(request), project=project, cluster=form.validated_data["cluster"])
    if queued is None:
        return Response({"detail": "the project stays on the same cluster; nothing to move"}, status=status.HTTP_200_OK)
    return Response(ProvisioningRunSerializer(queued.run).data, status=status.HTTP_202_ACCEPTED)
