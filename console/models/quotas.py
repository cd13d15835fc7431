"""Per-project quotas within per-organization limits: the fields, their defaults and the one rule check.

CPU, memory and storage are Kubernetes quantities (``provisioning.quantities``), stored in the canonical
form the API server writes back; pods and services are whole numbers. Defaults come from the settings
(``DSO_QUOTA_DEFAULT_*`` for a new project, ``DSO_QUOTA_LIMIT_*`` for a new organization) and are copied
into the row, so changing a setting later never moves an existing project silently.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from provisioning import quantities

QUOTA_RESOURCES = ("cpu", "memory", "storage", "pods", "services")
QUANTITY_RESOURCES = ("cpu", "memory", "storage")
# CPU is counted in millicores (the API server rounds finer amounts up); bytes and objects are whole.
UNITS = {"cpu": "1m", "memory": "1", "storage": "1", "pods": "1", "services": "1"}
LABELS = {"cpu": _("CPU"), "memory": _("Memory"), "storage": _("Storage"), "pods": _("Pods"),
          "services": _("Services")}  # fmt: skip
HELP = {
    "cpu": _("Cores for requests and limits of all pods together, e.g. 4 or 1500m"),
    "memory": _("Memory for requests and limits of all pods together, e.g. 8Gi or 512Mi"),
    "storage": _("Storage all persistent volume claims may request together, e.g. 50Gi"),
    "pods": _("Pods that may exist at once"),
    "services": _("Services that may exist at once"),
}
LIMIT_HELP = {
    "cpu": _("The most CPU one project of the organization may ask for, e.g. 32"),
    "memory": _("The most memory one project of the organization may ask for, e.g. 64Gi"),
    "storage": _("The most storage one project of the organization may ask for, e.g. 500Gi"),
    "pods": _("The most pods one project of the organization may ask for"),
    "services": _("The most services one project of the organization may ask for"),
}
COUNT_MAX = 2**31 - 1  # PositiveIntegerField on PostgreSQL


def default_project_quota(resource: str):
    return settings.QUOTA_DEFAULTS[resource]


def default_organization_limit(resource: str):
    return settings.QUOTA_ORGANIZATION_LIMITS[resource]


# Named functions (not lambdas) so migrations can reference them.
def default_quota_cpu():
    return default_project_quota("cpu")


def default_quota_memory():
    return default_project_quota("memory")


def default_quota_storage():
    return default_project_quota("storage")


def default_quota_pods():
    return default_project_quota("pods")


def default_quota_services():
    return default_project_quota("services")


def default_limit_cpu():
    return default_organization_limit("cpu")


def default_limit_memory():
    return default_organization_limit("memory")


def default_limit_storage():
    return default_organization_limit("storage")


def default_limit_pods():
    return default_organization_limit("pods")


def default_limit_services():
    return default_organization_limit("services")


def quantity_field(resource: str, default, help_text) -> models.CharField:
    return models.CharField(max_length=quantities.MAX_LENGTH, default=default, help_text=help_text,
                            verbose_name=LABELS[resource])  # fmt: skip


def count_field(resource: str, default, help_text) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(default=default, help_text=help_text, verbose_name=LABELS[resource],
                                       validators=[MinValueValidator(1), MaxValueValidator(COUNT_MAX)])  # fmt: skip


def _amount(resource: str, value) -> object:
    return quantities.parse(value) if resource in QUANTITY_RESOURCES else value


def quota_errors(values: dict, *, limits: dict | None = None, prefix: str) -> dict[str, ValidationError]:
    """Per-field errors for ``values`` (resource -> value), each within ``limits`` when given.

    Quantities that are well formed are rewritten in canonical form in ``values``.
    """
    errors: dict[str, ValidationError] = {}
    for resource in QUANTITY_RESOURCES:
        value = values.get(resource)
        if value in (None, ""):
            continue  # the field's own "blank" error says it
        problem = quantities.problem(str(value), what=str(LABELS[resource]), unit=UNITS[resource])
        if problem:
            errors[prefix + resource] = ValidationError(problem, code="invalid_quantity")
        else:
            values[resource] = quantities.canonical(str(value))
    if limits is None:
        return errors
    for resource in QUOTA_RESOURCES:
        field = prefix + resource
        value, limit = values.get(resource), limits.get(resource)
        if field in errors or value in (None, "") or limit in (None, ""):
            continue
        try:
            over = _amount(resource, value) > _amount(resource, limit)
        except (TypeError, ValueError):
            continue  # the limit itself is invalid: its own field says so
        if over:
            errors[field] = ValidationError(
                _("%(resource)s %(value)s exceeds the organization's limit of %(limit)s"),
                code="quota_exceeded", params={"resource": LABELS[resource], "value": value, "limit": limit},
            )
    return errors
