"""Forms only shape input; every rule is checked by the services (model validation). Fields use the same
validators as the models so a mistake is shown next to its field before anything is submitted."""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

from django import forms
from django.utils.translation import gettext_lazy as _

from console.models import DeployKind, Role
from console.models import quotas
from console.models.validators import (
    DESCRIPTION_MAX_LENGTH,
    validate_display_name,
    validate_dns_label,
    validate_git_revision,
    validate_repo_relative_path,
)


class OrganizationForm(forms.Form):
    slug = forms.CharField(max_length=40, validators=[validate_dns_label], label=_("Slug"),
                           help_text=_("Lowercase letters, digits and '-' (a DNS label)."))
    name = forms.CharField(max_length=200, required=False, validators=[validate_display_name], label=_("Name"),
                           help_text=_("Display name; defaults to the slug."))


class QuotaForm(forms.Form):
    """The five amounts of a project's ResourceQuota; a blank field keeps the current (or default) amount.
    Whether an amount is a valid quantity within the organization's limit is the model's to say."""

    quota_cpu = forms.CharField(label=quotas.LABELS["cpu"], max_length=40, required=False, help_text=quotas.HELP["cpu"])
    quota_memory = forms.CharField(label=quotas.LABELS["memory"], max_length=40, required=False,
                                   help_text=quotas.HELP["memory"])
    quota_storage = forms.CharField(label=quotas.LABELS["storage"], max_length=40, required=False,
                                    help_text=quotas.HELP["storage"])
    quota_pods = forms.IntegerField(label=quotas.LABELS["pods"], required=False, help_text=quotas.HELP["pods"])
    quota_services = forms.IntegerField(label=quotas.LABELS["services"], required=False,
                                        help_text=quotas.HELP["services"])

    def set_placeholders(self, values: dict, limits: dict | None = None) -> None:
        for resource in quotas.QUOTA_RESOURCES:
            field = self.fields[f"quota_{resource}"]
            field.widget.attrs["placeholder"] = str(values[resource])
            if limits is not None:
                field.help_text = _("%(help)s. At most %(limit)s.") % {"help": field.help_text,
                                                                        "limit": limits[resource]}

    def quota(self) -> dict:
        """resource -> amount for the fields filled in."""
        return {resource: value for resource in quotas.QUOTA_RESOURCES
                if (value := self.cleaned_data.get(f"quota_{resource}")) not in (None, "")}  # fmt: skip


class ProjectForm(QuotaForm):
    organization = forms.ModelChoiceField(queryset=None, to_field_name="slug", empty_label=None,
                                          label=_("Organization"))
    slug = forms.CharField(max_length=40, validators=[validate_dns_label], label=_("Slug"),
                           help_text=_("Lowercase letters, digits and '-' (a DNS label)."))
    name = forms.CharField(max_length=200, required=False, validators=[validate_display_name], label=_("Name"),
                           help_text=_("Display name; defaults to the slug."))
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label=_("Description"),
                                  max_length=DESCRIPTION_MAX_LENGTH)

    def __init__(self, *args, organizations=None, **kwargs):
        """``organizations``: a queryset to choose from, or None when the organization is fixed by the URL."""
        super().__init__(*args, **kwargs)
        if organizations is None:
            del self.fields["organization"]
        else:
            self.fields["organization"].queryset = organizations


class RepositoryForm(forms.Form):
    name = forms.CharField(max_length=40, validators=[validate_dns_label], label=_("Name"),
                           help_text=_("Internal name, unique in the project (a DNS label)."))
    # Not stripped: a URL with stray whitespace is refused by the service, the same as through the API.
    external_url = forms.CharField(
        max_length=500, strip=False, label=_("External URL"), help_text=_("https:// clone URL, without credentials.")
    )
    is_private = forms.BooleanField(required=False, label=_("Private (needs credentials)"))
    username = forms.CharField(max_length=200, required=False, label=_("Username"))
    # Write-only: never rendered back, not even after a validation error.
    token = forms.CharField(required=False, label=_("Token"), widget=forms.PasswordInput(render_value=False, attrs={
        "autocomplete": "new-password"}))
    is_infra = forms.BooleanField(required=False, label=_("Infrastructure repository (deployed by Argo CD)"))
    deploy_kind = forms.ChoiceField(
        choices=[("", "—")] + [(k, k) for k in DeployKind.values if k], required=False, label=_("Deploy kind")
    )
    deploy_path = forms.CharField(max_length=300, required=False, initial=".", label=_("Deploy path"),
                                  validators=[validate_repo_relative_path])
    deploy_revision = forms.CharField(max_length=200, required=False, initial="HEAD", label=_("Revision"),
                                      validators=[validate_git_revision],
                                      help_text=_("A branch, tag or commit (git ref name rules); default HEAD."))
    helm_value_files = forms.CharField(
        required=False, label=_("Helm value files"), help_text=_("Comma-separated paths; default values.yaml.")
    )
    image_name = forms.CharField(
        max_length=500, required=False, label=_("Image built from it"),
        help_text=_("Application repositories: the image CI builds, e.g. registry.example.com/team/app. "
                    "New commits then warn until an infra repository bumps its tag."),
    )

    def clean_helm_value_files(self) -> list[str]:
        # Each path is checked by the model (Repository.clean), which names the file at fault.
        return [part.strip() for part in self.cleaned_data["helm_value_files"].split(",") if part.strip()]

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["deploy_path"] = data["deploy_path"] or "."
        data["deploy_revision"] = data["deploy_revision"] or "HEAD"
        return data

    def redact_secrets(self) -> None:
        """Before re-rendering after an error: credentials typed into the URL are not echoed back."""
        data = self.data.copy()
        url_key = self.add_prefix("external_url")
        data[url_key] = strip_userinfo(data.get(url_key, ""))
        data.pop(self.add_prefix("token"), None)
        self.data = data


class RepositoryEditForm(RepositoryForm):
    """The registration form without the name (it makes the internal path), for an existing repository.

    The token stays write-only: an empty field keeps the stored one, "drop token" removes it.
    """

    drop_token = forms.BooleanField(required=False, label=_("Remove the stored token"))

    def __init__(self, *args, repository=None, **kwargs):
        if repository is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = {
                **{name: getattr(repository, name) for name in (
                    "external_url", "is_private", "username", "is_infra", "deploy_kind", "deploy_path",
                    "deploy_revision", "image_name")},
                "helm_value_files": ", ".join(repository.helm_value_files or []),
            }
        super().__init__(*args, **kwargs)
        del self.fields["name"]
        self.fields["token"].help_text = _("Leave empty to keep the stored token.")

    def service_fields(self) -> dict:
        data = super().service_fields()
        drop = data.pop("drop_token")
        if drop:
            data["token"] = ""
        elif not data["token"]:
            data.pop("token")  # empty: keep the stored token
        return data


def strip_userinfo(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150, label=_("Username"))
    role = forms.ChoiceField(choices=Role.choices, initial=Role.DEVELOPER, label=_("Role"))


class ImageBumpForm(forms.Form):
    """Which image to bump, where, and to what tag; the service validates all of it.

    The project page's warning posts ``image``/``file``/``location`` as hidden fields; the repository page
    offers one ``target`` select over its inventory instead, each option naming all three.
    """

    target = forms.ChoiceField(required=False, label=_("Image"))
    image = forms.CharField(max_length=500, required=False, widget=forms.HiddenInput)
    file = forms.CharField(max_length=500, required=False, widget=forms.HiddenInput)
    location = forms.CharField(max_length=500, required=False, widget=forms.HiddenInput)
    tag = forms.CharField(max_length=200, required=False, label=_("New tag"))
    reason = forms.CharField(max_length=500, required=False, label=_("Reason"),
                             help_text=_("Optional; goes into the commit message."))

    def __init__(self, *args, inventory=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [("", "—")] + [
            (bump_target(entry.image, entry.file, entry.location),
             _("%(image)s (%(file)s %(location)s, now %(tag)s)") % {
                 "image": entry.image, "file": entry.file, "location": entry.location,
                 "tag": entry.tag or entry.digest or "—"})
            for entry in inventory
        ]

    def clean(self):
        data = super().clean()
        if data.get("target"):
            data["image"], data["file"], data["location"] = json.loads(data["target"])
        return data

    def service_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in ("image", "tag", "file", "location", "reason")}


def bump_target(image: str, file: str, location: str) -> str:
    return json.dumps([image, file, location])
