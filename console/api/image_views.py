"""Image tags of infra repositories: inventory, history, bumps; releases reported by CI; redeploy warnings."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from console import selectors
from console.api import image_serializers as s
from console.api.ci_auth import HasCiGrant
from console.models import AuditEvent, Repository, Trigger
from console.models.ci import CiScope
from console.models.images import ImageBump, ImageInventoryEntry, ImageRelease
from console.permissions import SYNC, has_project_role
from console.services.actors import Actor
from console.services.ci_tokens import CiGrant, ci_grant_repository
from console.services.errors import DomainError, PermissionDenied
from console.services.image_bumps import image_tag_bump_request
from console.services.image_history import ALONG_CHOICES, ALONG_DEPLOY, image_tag_history
from console.services.images import image_release_record, redeploy_warnings


def visible_repository(request, repository_id: int):
    return get_object_or_404(selectors.repositories_visible_to(request.user), pk=repository_id)


# A pipeline (CI token of the repository, or a GitLab id_token it allows) may write here, never read; each
# endpoint names the scope the pipeline's credential needs.
USER_OR_PIPELINE = [permissions.IsAuthenticated | HasCiGrant]


def granted_repository(request, repository_id: int, scope: str) -> tuple[Repository, Actor]:
    """The repository and who acts: a signed-in user who can see it, or a pipeline whose grant has `scope`
    and covers it."""
    if isinstance(request.auth, CiGrant):
        grant = request.auth
        repository = ci_grant_repository(grant=grant, repository_id=int(repository_id), scope=scope)
        return repository, Actor(user=None, interface=AuditEvent.Interface.CI, label=grant.label[:200],
                                 detail=dict(grant.detail))
    return visible_repository(request, repository_id), Actor.for_user(request.user, AuditEvent.Interface.API)


class RepositoryImagesView(generics.ListAPIView):
    """The image inventory of an infra repository at its latest synced deploy commit."""

    serializer_class = s.ImageInventorySerializer

    def get_queryset(self):
        return visible_repository(self.request, self.kwargs["pk"]).image_inventory.order_by("image", "file", "location")


class RepositoryImageTagsView(generics.ListAPIView):
    """Recorded image tag changes (GET, newest first, read `?along=deploy` (default), `commits` or `all`,
    `?image=` filter); POST asks for a bump (202)."""

    serializer_class = s.ImageTagChangeSerializer
    permission_classes = USER_OR_PIPELINE

    def get_queryset(self):
        along = self.request.query_params.get("along") or ALONG_DEPLOY
        if along not in ALONG_CHOICES:
            raise DomainError(f"along must be one of {', '.join(ALONG_CHOICES)}", code="invalid_along")
        rewritten = self.request.query_params.get("rewritten", "true")
        if rewritten not in ("true", "false"):
            raise DomainError("rewritten must be true or false", code="invalid_rewritten")
        return image_tag_history(repository=visible_repository(self.request, self.kwargs["pk"]), along=along,
                                 image=self.request.query_params.get("image") or None,
                                 rewritten=rewritten == "true")

    @extend_schema(parameters=[
        OpenApiParameter("image", str, description="only this image (a registry move from or to it included)"),
        OpenApiParameter("along", str, enum=list(ALONG_CHOICES), description="; ".join(
            f"{name}: {meaning}" for name, meaning in ALONG_CHOICES.items())),
        OpenApiParameter("rewritten", bool, description="false: only what the deploy revision now contains "
                         "(no change a force-push removed, no change back it caused); default true"),
    ])
    def get(self, request, *args, **kwargs):
        if isinstance(request.auth, CiGrant):
            raise PermissionDenied("a pipeline may request bumps here, not read the history")
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.ImageBumpRequestSerializer, responses={202: s.ImageBumpSerializer})
    def post(self, request, pk: int):
        repository, actor = granted_repository(request, pk, CiScope.BUMP)
        form = s.ImageBumpRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        pipeline = actor.user is None
        bump = image_tag_bump_request(
            actor=actor, repository=repository, trigger=Trigger.CI if pipeline else Trigger.API,
            check_permission=not pipeline, **form.validated_data,
        )
        return Response(s.ImageBumpSerializer(bump).data, status=status.HTTP_202_ACCEPTED)


class ImageBumpView(generics.RetrieveAPIView):
    serializer_class = s.ImageBumpSerializer

    def get_queryset(self):
        return ImageBump.objects.filter(repository__in=selectors.repositories_visible_to(self.request.user).values("pk"))


class BuiltImageView(APIView):
    """CI reports a freshly built image of an application repository: until an infra repository bumps it,
    the project shows a redeploy warning. A pipeline gets back only what it reported (and whether it waits
    for a bump); a signed-in member gets the project's warnings."""

    permission_classes = USER_OR_PIPELINE

    @extend_schema(request=s.BuiltImageSerializer, responses={201: PolymorphicProxySerializer(
        component_name="BuiltImageResult", resource_type_field_name=None, many=False,
        serializers=[s.BuiltImageReceiptSerializer, s.RedeployWarningSerializer(many=True)],
    )})
    def post(self, request, pk: int):
        repository, actor = granted_repository(request, pk, CiScope.REPORT_BUILD)
        if actor.user is not None and not has_project_role(request.user, repository.project, SYNC):
            raise PermissionDenied("reporting a built image needs the developer role")
        release = record_built_image(repository, request.data)
        if actor.user is None:
            return Response(s.BuiltImageReceiptSerializer(built_image_receipt(release)).data,
                            status=status.HTTP_201_CREATED)
        warnings = redeploy_warnings(repository.project)
        return Response(s.RedeployWarningSerializer(warnings, many=True).data, status=status.HTTP_201_CREATED)


def record_built_image(repository, data) -> ImageRelease:
    form = s.BuiltImageSerializer(data=data)
    form.is_valid(raise_exception=True)
    image = form.validated_data.get("image") or repository.image_name
    if not image:
        raise DomainError({"image": ["give the image, or set the repository's image name"]})
    return image_release_record(repository=repository, image=image, tag=form.validated_data["tag"],
                                commit_sha=form.validated_data["commit_sha"], source=ImageRelease.Source.CI_REPORT)


def built_image_receipt(release: ImageRelease) -> dict:
    """What a pipeline learns about its own report: nothing about the project's other images."""
    return {
        "image": release.image, "tag": release.tag, "warning_open": release.resolved_at is None,
        "bump_candidates": ImageInventoryEntry.objects.filter(
            repository__project_id=release.project_id, image=release.image
        ).count(),
    }


class ProjectWarningsView(APIView):
    """Images built (or application commits) that no infra repository has bumped: nothing will redeploy."""

    @extend_schema(responses=s.RedeployWarningSerializer(many=True))
    def get(self, request, pk: int):
        project = get_object_or_404(selectors.projects_visible_to(request.user), pk=pk)
        return Response(s.RedeployWarningSerializer(redeploy_warnings(project), many=True).data)
