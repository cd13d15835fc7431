"""Release endpoints (issue #12): sync schedules, image pins and rollbacks, container registries and their watch."""

from __future__ import annotations

from django.db.models import F, Prefetch
from django.shortcuts import get_object_or_404
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from console import selectors
from console.api import release_serializers as rs
from console.authorization import authorize
from console.models import (
    AuditEvent,
    ContainerRegistry,
    NotificationDelivery,
    NotificationTarget,
    Trigger,
    WatchedImage,
)
from console.services.actors import Actor
from console.services.ledger import image_inventory, image_tag_ledger, inventory_csv
from console.services.merge_requests import merge_request_settings_set
from console.services.notifications import (
    notification_target_create,
    notification_target_remove,
    notification_target_update,
)
from console.services.pins import image_pin, image_rollback, image_unpin
from console.services.registries import (
    registry_image_unwatch,
    registry_image_watch,
    registry_register,
    registry_remove,
    registry_update,
    tag_policy_set,
)
from console.services.registry_watch import registry_watch_request
from console.services.schedules import schedule_state, sync_schedule_set


def _actor(request) -> Actor:
    return Actor.for_user(request.user, AuditEvent.Interface.API)


def _repository(request, pk: int):
    return get_object_or_404(selectors.repositories_visible_to(request.user), pk=pk)


class SyncScheduleView(APIView):
    @extend_schema(responses=rs.SyncScheduleSerializer)
    def get(self, request, pk: int):
        return Response(rs.SyncScheduleSerializer(schedule_state(_repository(request, pk)).as_dict()).data)

    @extend_schema(request=rs.SyncScheduleSerializer, responses=rs.SyncScheduleSerializer)
    def put(self, request, pk: int):
        repository = _repository(request, pk)
        # Authorized before the body is read, so a caller without the role learns nothing from validation.
        authorize(_actor(request), "repository.manage", repository, doing="changing the sync schedule")
        form = rs.SyncScheduleSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        sync_schedule_set(actor=_actor(request), repository=repository, enabled=form.validated_data["enabled"],
                          interval_seconds=form.validated_data.get("interval_seconds"))
        return Response(rs.SyncScheduleSerializer(schedule_state(repository).as_dict()).data)


class RepositoryPinsView(generics.ListAPIView):
    """The repository's pins, active first then history (GET); POST pins an image at a tag."""

    serializer_class = rs.ImagePinSerializer

    def get_queryset(self):
        repository = _repository(self.request, self.kwargs["pk"])
        return repository.image_pins.order_by(F("unpinned_at").desc(nulls_first=True), "-pinned_at", "-id")

    @extend_schema(request=rs.ImagePinRequestSerializer, responses={201: rs.ImagePinSerializer})
    def post(self, request, pk: int):
        repository = _repository(request, pk)
        authorize(_actor(request), "repository.pin", repository)
        form = rs.ImagePinRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        pin = image_pin(actor=_actor(request), repository=repository, **form.validated_data)
        return Response(rs.ImagePinSerializer(pin).data, status=status.HTTP_201_CREATED)


class RepositoryUnpinView(APIView):
    @extend_schema(request=rs.ImageUnpinRequestSerializer, responses=rs.ImagePinSerializer)
    def post(self, request, pk: int):
        """Unpin an image (one action): CI and automatic bumps may move it again."""
        repository = _repository(request, pk)
        authorize(_actor(request), "repository.pin", repository, doing="unpinning an image")
        form = rs.ImageUnpinRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        pin = image_unpin(actor=_actor(request), repository=repository, **form.validated_data)
        return Response(rs.ImagePinSerializer(pin).data)


class RepositoryRollbackView(APIView):
    @extend_schema(request=rs.RollbackRequestSerializer, responses={202: rs.RollbackSerializer})
    def post(self, request, pk: int):
        """Roll an image back to an earlier tag: a bump to it (202, follow the bump) and a pin that refuses
        every other bump of the image in this repository until it is unpinned."""
        repository = _repository(request, pk)
        authorize(_actor(request), "repository.pin", repository, doing="rolling back an image")
        form = rs.RollbackRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        pin, bump = image_rollback(actor=_actor(request), repository=repository, trigger=Trigger.API,
                                   **form.validated_data)
        return Response(rs.RollbackSerializer({"pin": pin, "bump": bump}).data, status=status.HTTP_202_ACCEPTED)


def _project(request, pk: int):
    return get_object_or_404(selectors.projects_visible_to(request.user), pk=pk)


def _registry(request, pk: int):
    projects = selectors.projects_visible_to(request.user).values("pk")
    return get_object_or_404(ContainerRegistry.objects.select_related("project"), pk=pk, project__in=projects)


def _registries():
    return ContainerRegistry.objects.select_related("project").prefetch_related(
        Prefetch("images", queryset=WatchedImage.objects.select_related("registry").prefetch_related("policies")))


class ProjectRegistriesView(generics.ListAPIView):
    """The project's container registries and watched images with their tag policies (GET); POST registers one."""

    serializer_class = rs.ContainerRegistrySerializer

    def get_queryset(self):
        return _registries().filter(project=_project(self.request, self.kwargs["pk"])).order_by("name")

    @extend_schema(request=rs.ContainerRegistrySerializer, responses={201: rs.ContainerRegistrySerializer})
    def post(self, request, pk: int):
        project = _project(request, pk)
        authorize(_actor(request), "registry.manage", project)
        form = rs.ContainerRegistrySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        registry = registry_register(actor=_actor(request), project=project, **form.validated_data)
        return Response(rs.ContainerRegistrySerializer(_registries().get(pk=registry.pk)).data,
                        status=status.HTTP_201_CREATED)


class RegistryDetailView(APIView):
    @extend_schema(request=rs.ContainerRegistryUpdateSerializer, responses=rs.ContainerRegistrySerializer)
    def patch(self, request, pk: int):
        """New URL or credentials: an empty token keeps the stored one, `drop_token` forgets it; a new URL
        needs the token again (or dropping it)."""
        registry = _registry(request, pk)
        authorize(_actor(request), "registry.manage", registry.project)
        form = rs.ContainerRegistryUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        registry_update(actor=_actor(request), registry=registry, **form.validated_data)
        return Response(rs.ContainerRegistrySerializer(_registries().get(pk=registry.pk)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk: int):
        """Forget the registry, its watched images, their tags and policies, and its watch runs."""
        registry_remove(actor=_actor(request), registry=_registry(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RegistryImageView(APIView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk: int, image_id: int):
        """Stop watching the image (its discovered tags and tag policies go with it)."""
        registry = _registry(request, pk)
        image = get_object_or_404(registry.images.select_related("registry__project"), pk=image_id)
        registry_image_unwatch(actor=_actor(request), image=image)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RegistryImagesView(APIView):
    @extend_schema(request=rs.WatchedImageSerializer, responses={201: rs.WatchedImageSerializer})
    def post(self, request, pk: int):
        """Watch one more image repository of the registry."""
        registry = _registry(request, pk)
        authorize(_actor(request), "registry.manage", registry.project)
        form = rs.WatchedImageSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        image = registry_image_watch(actor=_actor(request), registry=registry,
                                     image=form.validated_data["repository"])
        return Response(rs.WatchedImageSerializer(image).data, status=status.HTTP_201_CREATED)


class TagPolicyView(APIView):
    @extend_schema(request=rs.TagPolicySerializer, responses=rs.TagPolicySerializer)
    def put(self, request, pk: int, image_id: int):
        """Set the tag policy of a watched image for one infra repository of the project (replaces it)."""
        registry = _registry(request, pk)
        authorize(_actor(request), "registry.manage", registry.project)
        image = get_object_or_404(registry.images.select_related("registry"), pk=image_id)
        form = rs.TagPolicySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        repository = get_object_or_404(registry.project.repositories.all(), pk=data.pop("repository_id"))
        policy = tag_policy_set(actor=_actor(request), image=image, repository=repository, **data)
        return Response(rs.TagPolicySerializer(policy).data)


class RegistryWatchView(APIView):
    @extend_schema(request=None, responses={202: rs.RegistryWatchRunSerializer})
    def post(self, request, pk: int):
        """Check the registry now (joins a queued check)."""
        registry = _registry(request, pk)
        queued = registry_watch_request(actor=_actor(request), registry=registry, trigger=Trigger.API)
        return Response(rs.RegistryWatchRunSerializer(queued.run).data, status=status.HTTP_202_ACCEPTED)


class ImageTagLedgerView(APIView):
    @extend_schema(responses=rs.LedgerSerializer)
    def get(self, request, image: str, tag: str):
        """The timeline of one image tag: app commit and sync, build or registry discovery, bump, infra commit
        and sync, deployment where read-back exists; seconds between steps. Only projects you can see."""
        return Response(rs.LedgerSerializer(image_tag_ledger(user=request.user, image=image, tag=tag)).data)


class ImageInventoryView(generics.ListAPIView):
    """Platform admins: which organizations, projects and infra repositories set which image and tag now.
    Filters: `image` (substring), `tag`, `organization`, `project`; `export=csv` answers the whole list as CSV."""

    serializer_class = rs.InventoryRowSerializer

    def get_queryset(self):
        params = self.request.query_params
        return image_inventory(actor=_actor(self.request), image=params.get("image", ""), tag=params.get("tag", ""),
                               organization=params.get("organization", ""), project=params.get("project", ""))

    @extend_schema(parameters=[OpenApiParameter(name, str) for name in ("image", "tag", "organization", "project",
                                                                        "export")])
    def get(self, request, *args, **kwargs):
        if request.query_params.get("export") == "csv":
            response = HttpResponse(inventory_csv(self.get_queryset()), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="image-inventory.csv"'
            return response
        return super().get(request, *args, **kwargs)


class ProjectNotificationTargetsView(generics.ListAPIView):
    """The project's notification targets (GET, maintainers); POST adds one (a webhook's secret is in the answer
    only)."""

    serializer_class = rs.NotificationTargetSerializer

    def get_queryset(self):
        project = _project(self.request, self.kwargs["pk"])
        authorize(_actor(self.request), "project.edit", project, doing="seeing notification targets",
                  reading=True)
        return project.notification_targets.all()

    @extend_schema(request=rs.NotificationTargetSerializer, responses={201: rs.NotificationTargetCreatedSerializer})
    def post(self, request, pk: int):
        project = _project(request, pk)
        authorize(_actor(request), "project.edit", project, doing="managing notification targets")
        form = rs.NotificationTargetSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        target, secret = notification_target_create(actor=_actor(request), project=project, **form.validated_data)
        data = dict(rs.NotificationTargetSerializer(target).data)
        if secret:
            data["secret"] = secret
        return Response(data, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class NotificationTargetView(APIView):
    def _target(self, request, pk: int) -> NotificationTarget:
        projects = selectors.projects_visible_to(request.user).values("pk")
        return get_object_or_404(NotificationTarget.objects.select_related("project"), pk=pk,
                                 project__in=projects)

    @extend_schema(request=rs.NotificationTargetUpdateSerializer, responses=rs.NotificationTargetSerializer)
    def patch(self, request, pk: int):
        """The events the target gets (empty: every one) and whether it is enabled."""
        target = self._target(request, pk)
        authorize(_actor(request), "project.edit", target.project, doing="managing notification targets")
        form = rs.NotificationTargetUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        notification_target_update(actor=_actor(request), target=target, **form.validated_data)
        return Response(rs.NotificationTargetSerializer(target).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk: int):
        """Remove the target and its deliveries."""
        notification_target_remove(actor=_actor(request), target=self._target(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectNotificationDeliveriesView(generics.ListAPIView):
    """Every delivery of the project's notifications, newest first."""

    serializer_class = rs.NotificationDeliverySerializer

    def get_queryset(self):
        project = _project(self.request, self.kwargs["pk"])
        authorize(_actor(self.request), "project.edit", project, doing="seeing notification deliveries",
                  reading=True)
        return NotificationDelivery.objects.filter(target__project=project)


class MergeRequestSettingsView(APIView):
    @extend_schema(request=rs.MergeRequestSettingsSerializer, responses=rs.MergeRequestSettingsSerializer)
    def put(self, request, pk: int):
        """Bump this infra repository by merge request at its external GitLab (its token opens them)."""
        repository = _repository(request, pk)
        authorize(_actor(request), "repository.manage", repository,
                  doing="changing how bumps reach the repository")
        form = rs.MergeRequestSettingsSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        saved = merge_request_settings_set(actor=_actor(request), repository=repository, **form.validated_data)
        return Response(rs.MergeRequestSettingsSerializer(saved).data)
