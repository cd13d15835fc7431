"""Release endpoints (issue #12): a repository's sync schedule, image pins and rollbacks."""

from __future__ import annotations

from django.db.models import F
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from console import selectors
from console.api import release_serializers as rs
from console.authorization import authorize
from console.models import AuditEvent, Trigger
from console.services.actors import Actor
from console.services.pins import image_pin, image_rollback, image_unpin
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
