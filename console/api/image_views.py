"""Image tags of infra repositories: inventory, history, bumps; releases reported by CI; redeploy warnings."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from console import selectors
from console.api import image_serializers as s
from console.api.ci_auth import HasCiGrant
from console.authorization import ACTIONS, authorize
from console.models import AuditEvent, Repository, Trigger
from console.models.images import ImageBump
from console.services.actors import Actor
from console.services.built_images import built_image_receipt, built_image_report
from console.services.ci_tokens import CiGrant, ci_grant_repository
from console.services.errors import DomainError
from console.services.image_bumps import image_tag_bump_request
from console.services.image_history import ALONG_CHOICES, ALONG_DEPLOY, image_tag_history
from console.services.images import redeploy_warnings


def visible_repository(request, repository_id: int):
    return get_object_or_404(selectors.repositories_visible_to(request.user), pk=repository_id)


# A pipeline (CI token of the repository, or a GitLab id_token it allows) may write here, never read; each
# endpoint names the scope the pipeline's credential needs.
USER_OR_PIPELINE = [permissions.IsAuthenticated | HasCiGrant]


def granted_repository(request, repository_id: int, action: str) -> tuple[Repository, Actor]:
    """The repository and who acts, once console.authorization allows `action`: a signed-in user who can see
    the repository and holds the role, or a pipeline whose grant has the scope and covers it. Authorization
    comes before the body is read, so a caller without the right learns nothing from validation errors."""
    if isinstance(request.auth, CiGrant):
        scope = ACTIONS[action].ci_scope
        repository = ci_grant_repository(grant=request.auth, repository_id=int(repository_id), scope=scope)
        actor = Actor.for_grant(request.auth, AuditEvent.Interface.CI)
    else:
        repository = visible_repository(request, repository_id)
        actor = Actor.for_user(request.user, AuditEvent.Interface.API)
    authorize(actor, action, repository)
    return repository, actor


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
            raise DomainError(_("along must be one of %(value)s") % {
                "value": ', '.join(ALONG_CHOICES),
            }, code="invalid_along")
        rewritten = self.request.query_params.get("rewritten", "true")
        if rewritten not in ("true", "false"):
            raise DomainError(_("rewritten must be true or false"), code="invalid_rewritten")
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
            # No CI scope opens "repository.view": a pipeline may request bumps here, not read the history.
            authorize(Actor.for_grant(request.auth, AuditEvent.Interface.CI), "repository.view",
                      Repository.objects.filter(pk=kwargs["pk"]).first())
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.ImageBumpRequestSerializer, responses={202: s.ImageBumpSerializer})
    def post(self, request, pk: int):
        repository, actor = granted_repository(request, pk, "repository.bump")
        form = s.ImageBumpRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        trigger = Trigger.CI if actor.grant is not None else Trigger.API
        bump = image_tag_bump_request(actor=actor, repository=repository, trigger=trigger, **form.validated_data)
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
        repository, actor = granted_repository(request, pk, "repository.report_build")
        form = s.BuiltImageSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        release = built_image_report(actor=actor, repository=repository, **form.validated_data)
        if actor.grant is not None:
            return Response(s.BuiltImageReceiptSerializer(built_image_receipt(release)).data,
                            status=status.HTTP_201_CREATED)
        warnings = redeploy_warnings(repository.project)
        return Response(s.RedeployWarningSerializer(warnings, many=True).data, status=status.HTTP_201_CREATED)


class ProjectWarningsView(APIView):
    """Images built (or application commits) that no infra repository has bumped: nothing will redeploy."""

    @extend_schema(responses=s.RedeployWarningSerializer(many=True))
    def get(self, request, pk: int):
        project = get_object_or_404(selectors.projects_visible_to(request.user), pk=pk)
        return Response(s.RedeployWarningSerializer(redeploy_warnings(project), many=True).data)
