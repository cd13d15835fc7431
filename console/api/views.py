"""REST API v1. Viewsets translate HTTP into service calls; visibility comes from selectors."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from console import selectors
from console.api import cluster_serializers as cs
from console.api import serializers as s
from console.api.cluster_views import project_move_cluster_response
from console.api.ci_auth import HasCiGrant
from console.api.ci_serializers import CiSyncRequestSerializer
from console.api.ci_views import ci_sync_response
from console.api.pagination import RunHistoryPagination
from console.api.renderers import YAMLTextRenderer
from console.api.responses import accepted_run
from console.authorization import authorize
from console.models import AuditEvent, Membership, Organization, Project, Repository, SyncRun, Trigger
from console.services.actors import Actor
from console.services.memberships import membership_remove, membership_set
from console.services.organizations import organization_create, organization_update
from console.services.project_locks import project_lock, project_unlock
from console.services.projects import project_archive, project_create, project_provision_request, project_update
from console.services.provisioning import project_argocd_credentials, project_render_yaml
from console.services.repositories import repository_register, repository_remove, repository_update
from console.services.ci_tokens import CiGrant
from console.services.errors import Unprocessable
from console.services.syncs import sync_request
from provisioning.errors import ProvisioningError


def api_actor(request) -> Actor:
    return Actor.for_user(request.user, AuditEvent.Interface.API)


class OrganizationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                          mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = s.OrganizationSerializer
    queryset = Organization.objects.none()  # for the schema; get_queryset decides what a caller sees
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.organizations_visible_to(self.request.user).order_by("slug")

    def perform_create(self, serializer):
        serializer.instance = organization_create(actor=api_actor(self.request), **serializer.validated_data)

    @extend_schema(request=s.OrganizationUpdateSerializer)
    def partial_update(self, request, *args, **kwargs):
        organization = self.get_object()
        authorize(api_actor(request), "organization.edit", organization)  # before the body: 403, never a 400
        form = s.OrganizationUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        organization = organization_update(actor=api_actor(request), organization=organization,
                                           name=form.validated_data["name"])
        return Response(s.OrganizationSerializer(organization).data)


class ProjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ProjectSerializer
    queryset = Project.objects.none()

    def get_queryset(self):
        projects = (selectors.projects_visible_to(self.request.user).select_related("locked_by")
                    .order_by("organization__slug", "slug"))
        organization = self.request.query_params.get("organization")
        if organization:
            projects = projects.filter(organization__slug=organization)
        return projects

    @extend_schema(parameters=[OpenApiParameter("organization", str, description="organization slug")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.ProjectSerializer, responses={202: s.ProjectCreatedSerializer})
    def create(self, request):
        form = s.ProjectSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        organization = get_object_or_404(
            selectors.organizations_visible_to(request.user), pk=form.validated_data["organization"].pk
        )
        data = {k: v for k, v in form.validated_data.items() if k != "organization"}
        project, run = project_create(actor=api_actor(request), organization=organization, **data)
        body = s.ProjectCreatedSerializer(project, context={"provisioning_run": run}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.ProjectUpdateSerializer, responses=s.ProjectSerializer)
    def partial_update(self, request, pk=None):
        form = s.ProjectUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        project = project_update(actor=api_actor(request), project=self.get_object(), **form.validated_data)
        return Response(s.ProjectSerializer(project).data)

    @extend_schema(responses={(200, "application/yaml"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], renderer_classes=[YAMLTextRenderer])
    def manifests(self, request, pk=None):
        """The namespace, quota, limits, network policy, AppProject and Applications, as multi-document YAML."""
        project = self.get_object()
        try:
            rendered = project_render_yaml(project)
        except ProvisioningError as exc:
            # Registration refuses such values: this is data stored before it did, or a setting changed since.
            raise Unprocessable(_("the project's manifests cannot be rendered: %(message)s") % {
                "message": exc.message,
            },
                                code="invalid_manifest") from exc
        return Response(rendered, content_type="application/yaml")

    @extend_schema(responses=s.ArgoCdCredentialsSerializer)
    @action(detail=True, methods=["get"], url_path="argocd-credentials")
    def argocd_credentials(self, request, pk=None):
        """Platform admins only: the read-only credential Argo CD clones this project's repositories with."""
        project = self.get_object()
        authorize(api_actor(request), "project.argocd_credentials", project)
        return Response(project_argocd_credentials(project), headers={"Cache-Control": "no-store"})

    @extend_schema(request=None, responses={202: s.ProvisioningRunSerializer})
    @action(detail=True, methods=["post"])
    def provision(self, request, pk=None):
        queued = project_provision_request(actor=api_actor(request), project=self.get_object(), trigger=Trigger.API)
        return Response(s.ProvisioningRunSerializer(queued.run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=cs.ArchiveSerializer, responses={202: s.ProvisioningRunSerializer})
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        project = self.get_object()
        authorize(api_actor(request), "project.archive", project)  # before the body: 403, never a 400
        form = cs.ArchiveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        queued = project_archive(actor=api_actor(request), project=project,
                                 delete_namespace=form.validated_data["delete_namespace"])
        return Response(s.ProvisioningRunSerializer(queued.run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.ProjectLockRequestSerializer, responses=s.ProjectSerializer)
    @action(detail=True, methods=["post"])
    def lock(self, request, pk=None):
        """Platform admins: refuse every write on the project and its repositories (409 `project_locked`)
        until it is unlocked; a locked project stays locked as it was (its first reason is kept)."""
        project = self.get_object()
        authorize(api_actor(request), "project.lock", project)  # before the body: 403, never a 400
        form = s.ProjectLockRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        project_lock(actor=api_actor(request), project=project, reason=form.validated_data["reason"])
        return Response(s.ProjectSerializer(project).data)

    @extend_schema(request=None, responses=s.ProjectSerializer)
    @action(detail=True, methods=["post"])
    def unlock(self, request, pk=None):
        """Platform admins: lift the project's lock (nothing happens when it is not locked)."""
        project = self.get_object()
        project_unlock(actor=api_actor(request), project=project)
        return Response(s.ProjectSerializer(project).data)

    @extend_schema(request=cs.ProjectClusterSerializer,
                   responses={202: s.ProvisioningRunSerializer, 200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"], url_path="cluster", url_name="move-cluster")
    def move_cluster(self, request, pk=None):
        """Platform admins: place the project on another cluster (null: the platform default); the run applies
        its objects there and removes them from the cluster it leaves."""
        return project_move_cluster_response(request, self.get_object())

    @extend_schema(responses=s.ProvisioningRunSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="provisioning-runs", pagination_class=RunHistoryPagination)
    def provisioning_runs(self, request, pk=None):
        runs = self.get_object().provisioning_runs.select_related("actor").order_by("-queued_at", "-id")
        page = self.paginate_queryset(runs)
        return self.get_paginated_response(s.ProvisioningRunSerializer(page, many=True).data)

    @extend_schema(methods=["get"], responses=s.RepositorySerializer(many=True))
    @extend_schema(methods=["post"], request=s.RepositorySerializer, responses={201: s.RepositorySerializer})
    @action(detail=True, methods=["get", "post"], serializer_class=s.RepositorySerializer)
    def repositories(self, request, pk=None):
        project = self.get_object()
        if request.method == "POST":
            authorize(api_actor(request), "repository.register", project)
            form = s.RepositorySerializer(data=request.data)
            form.is_valid(raise_exception=True)
            repository = repository_register(actor=api_actor(request), project=project, **form.validated_data)
            repository = selectors.with_last_sync(selectors.repositories_visible_to(request.user)).get(
                pk=repository.pk
            )
            return Response(s.RepositorySerializer(repository).data, status=status.HTTP_201_CREATED)
        repositories = selectors.with_last_sync(project.repositories.all()).order_by("name")
        page = self.paginate_queryset(repositories)
        return self.get_paginated_response(s.RepositorySerializer(page, many=True).data)

    @extend_schema(methods=["get"], responses=s.MembershipSerializer(many=True))
    @extend_schema(methods=["post"], request=s.MembershipWriteSerializer, responses={201: s.MembershipSerializer})
    @action(detail=True, methods=["get", "post"], serializer_class=s.MembershipSerializer)
    def members(self, request, pk=None):
        project = self.get_object()
        if request.method == "POST":
            authorize(api_actor(request), "project.members", project)
            form = s.MembershipWriteSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            membership = membership_set(actor=api_actor(request), project=project, **form.validated_data)
            return Response(s.MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(selectors.project_members(project))
        return self.get_paginated_response(s.MembershipSerializer(page, many=True).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<membership_id>\d+)")
    def remove_member(self, request, pk=None, membership_id=None):
        project = self.get_object()
        membership = get_object_or_404(Membership, pk=membership_id, project=project)
        membership_remove(actor=api_actor(request), membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RepositoryViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.RepositorySerializer
    queryset = Repository.objects.none()

    # Actions that answer with the repository itself show its last sync; the others (a sync trigger, the run
    # history) only need the repository, without four correlated subqueries per request.
    SHOWS_REPOSITORY = {"retrieve", "partial_update"}

    def get_queryset(self):
        repositories = selectors.repositories_visible_to(self.request.user)
        return selectors.with_last_sync(repositories) if self.action in self.SHOWS_REPOSITORY else repositories

    @extend_schema(request=s.RepositoryUpdateSerializer, responses=s.RepositorySerializer)
    def partial_update(self, request, pk=None):
        repository = self.get_object()
        form = s.RepositoryUpdateSerializer(repository, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        repository_update(actor=api_actor(request), repository=repository, **form.validated_data)
        return Response(s.RepositorySerializer(self.get_queryset().get(pk=repository.pk)).data)

    @extend_schema(request=None, responses={202: s.ProvisioningRunSerializer})
    def destroy(self, request, pk=None):
        """Remove the repository: no more syncs; a provisioning run (202) drops it from the manifests and
        archives its internal mirror as `<name>-removed-<id>`."""
        queued = repository_remove(actor=api_actor(request), repository=self.get_object())
        return Response(s.ProvisioningRunSerializer(queued.run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=CiSyncRequestSerializer, responses={202: s.SyncRunSerializer})
    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAuthenticated | HasCiGrant])
    def sync(self, request, pk=None):
        """Request a sync. Answers 202 with the run; joins a queued run instead of queuing another.

        Besides a user's token or session, a pipeline may call it with `Authorization: Bearer` and a CI token
        of this repository or a GitLab CI id_token (optional body: pipeline_id, job_url, commit_sha)."""
        if isinstance(request.auth, CiGrant):
            return ci_sync_response(request, pk)
        queued = sync_request(actor=api_actor(request), repository=self.get_object(), trigger=Trigger.API)
        body = s.SyncRunSerializer(queued.run, context={"request": request}).data
        return accepted_run(body)

    @extend_schema(responses=s.SyncRunSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=RunHistoryPagination)
    def syncs(self, request, pk=None):
        # The repository is visible (get_object), so are its runs: no second visibility filter to plan around.
        runs = selectors.sync_runs_of(repository=self.get_object())
        page = self.paginate_queryset(runs.order_by("-queued_at", "-id"))
        return self.get_paginated_response(s.SyncRunSerializer(page, many=True, context={"request": request}).data)


class SyncRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.SyncRunSerializer
    queryset = SyncRun.objects.none()
    pagination_class = RunHistoryPagination

    def get_serializer_class(self):
        return s.SyncRunDetailSerializer if self.action == "retrieve" else s.SyncRunSerializer

    def get_queryset(self):
        if self.action == "retrieve":
            return selectors.sync_runs_visible_to(self.request.user)
        window = self.paginator.window(self.request) if self.paginator is not None else None
        return selectors.sync_run_history_visible_to(
            self.request.user, status=self.request.query_params.get("status") or None, window=window,
        ).order_by("-queued_at", "-id")
