"""Kubernetes clusters the console places projects on.

With no cluster registered, projects use the embedded default: manifests committed to the platform
repository, destination and Argo CD namespace from settings (as before clusters existed). A registered
cluster says how the console delivers to it: ``gitops`` (the same commit to the platform repository) or
``direct`` (server-side apply with the kubernetes client, see provisioning.cluster).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from console.crypto import EncryptedTextField
from console.models.validators import validate_dns_label
from console.network import validate_url_syntax
from provisioning.cluster.base import ClusterConfig


class DeliveryMode(models.TextChoices):
    GITOPS = "gitops", _("GitOps: commit to the platform repository")
    DIRECT = "direct", _("Direct: server-side apply with the kubernetes client")


class Cluster(models.Model):
    name = models.CharField(max_length=63, unique=True, validators=[validate_dns_label])
    api_url = models.CharField("API server URL", max_length=500, validators=[validate_url_syntax])
    ca_bundle = models.TextField("CA bundle (PEM)", blank=True,
                                 help_text=_("the API server's CA certificates; empty: the system's trust store"))
    # A service-account token: encrypted at rest, never shown again (API and admin only say whether it is set).
    token = EncryptedTextField(blank=True)
    argocd_namespace = models.CharField("Argo CD namespace", max_length=63, default="argocd",
                                        validators=[validate_dns_label])
    argocd_url = models.CharField("Argo CD URL", max_length=500, blank=True, validators=[validate_url_syntax],
                                  help_text=_("the Argo CD web UI, for deep links"))
    delivery_mode = models.CharField(max_length=10, choices=DeliveryMode.choices, default=DeliveryMode.GITOPS)
    self_heal = models.BooleanField(default=False, help_text=_("re-apply or re-commit when drift is found"))
    is_default = models.BooleanField(default=False, help_text=_("where projects without a cluster go"))
    insecure_skip_tls_verify = models.BooleanField("skip TLS verification", default=False,
                                                   help_text=_("for test clusters only"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_cluster"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.ca_bundle and "-----BEGIN CERTIFICATE-----" not in self.ca_bundle:
            errors["ca_bundle"] = _("must be PEM certificates (-----BEGIN CERTIFICATE----- ...)")
        if self.delivery_mode == DeliveryMode.DIRECT and not self.token:
            errors["token"] = _("direct delivery needs a service-account token")
        if errors:
            raise ValidationError(errors)

    @property
    def token_is_set(self) -> bool:
        return bool(self.token)

    @property
    def is_direct(self) -> bool:
        return self.delivery_mode == DeliveryMode.DIRECT

    def config(self) -> ClusterConfig:
        return ClusterConfig(
            name=self.name,
            api_url=self.api_url,
            ca_bundle=self.ca_bundle,
            token=self.token,
            argocd_namespace=self.argocd_namespace,
            timeout_seconds=settings.CLUSTER_TIMEOUT_SECONDS,
            insecure_skip_tls_verify=self.insecure_skip_tls_verify,
        )
