"""Release endpoints (issue #12): a repository's sync schedule, image pins and rollbacks."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from console import selectors
from console.api import release_serializers as rs
from console.authorization import authorize
from console.models import AuditEvent
from console.services.actors import Actor
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
