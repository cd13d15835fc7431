"""Forms of the registries and notifications pages (issue #12). They only shape input: the URL, image names,
tag policies, addresses and events are checked by the services, the same as through the API."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from console.models import NotificationEvent, NotificationTarget, TagPolicyKind
from console.models.validators import validate_dns_label

TAG_POLICY_KINDS = {
    TagPolicyKind.SEMVER: _("semantic version range"),
    TagPolicyKind.REGEX: _("regular expression, sorted by a capture"),
    TagPolicyKind.LATEST_BUILD: _("newest build"),
}

EVENT_LABELS = {
    NotificationEvent.SYNC_FAILED: _("sync failed"),
    NotificationEvent.PROVISIONING_FAILED: _("provisioning failed"),
    NotificationEvent.NEW_TAG_WAITING: _("new tag waiting for a bump"),
    NotificationEvent.BUMP_FAILED: _("bump failed or stuck"),
    NotificationEvent.IMAGE_PINNED: _("image pinned"),
}


def event_label(event: str) -> str:
    return str(EVENT_LABELS.get(event, event))


class _RedactsToken:
    secret_field = "token"

    def redact_secrets(self) -> None:
        """Before re-rendering after an error: a typed secret is never echoed back."""
        data = self.data.copy()
        data.pop(self.add_prefix(self.secret_field), None)
        self.data = data


class RegistryForm(_RedactsToken, forms.Form):
    name = forms.CharField(max_length=40, validators=[validate_dns_label], label=_("Name"),
                           help_text=_("Unique in the project (a DNS label)."))
    # Not stripped: the service says what is wrong with the URL, the same as through the API.
    url = forms.CharField(max_length=500, strip=False, label=_("Registry URL"),
                          help_text=_("https://registry.example.com, the base of its /v2/ API."))
    username = forms.CharField(max_length=200, required=False, label=_("Username"))
    # Write-only: never rendered back, not even after a validation error.
    token = forms.CharField(max_length=2000, required=False, label=_("Token"),
                            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                            help_text=_("Optional; stored encrypted and never shown again."))
    images = forms.CharField(required=False, label=_("Images to watch"),
                             help_text=_("Image repositories in the registry, comma-separated, e.g. team/app."))

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["images"] = [part.strip() for part in data["images"].split(",") if part.strip()]
        return data


class RegistryEditForm(_RedactsToken, forms.Form):
    url = RegistryForm.base_fields["url"]
    username = RegistryForm.base_fields["username"]
    token = forms.CharField(max_length=2000, required=False, label=_("New token"),
                            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                            help_text=_("Leave empty to keep the stored token."))
    drop_token = forms.BooleanField(required=False, label=_("Remove the stored token"))

    def __init__(self, *args, registry=None, **kwargs):
        if registry is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = {"url": registry.url, "username": registry.username}
        super().__init__(*args, **kwargs)


class WatchedImageForm(forms.Form):
    repository = forms.CharField(max_length=255, label=_("Image repository"),
                                 help_text=_("The image's path in the registry, e.g. team/app."))


class TagPolicyForm(forms.Form):
    repository = forms.TypedChoiceField(coerce=int, label=_("Infra repository"))
    kind = forms.ChoiceField(choices=list(TAG_POLICY_KINDS.items()), initial=TagPolicyKind.SEMVER,
                             label=_("Policy"))
    constraint = forms.CharField(max_length=200, required=False, label=_("Version range"),
                                 help_text=_("Semantic versions: e.g. ~1.4 or >=2.0 <3."))
    pattern = forms.CharField(max_length=300, required=False, label=_("Pattern"),
                              help_text=_("Regular expression: a capture sorts the tags, e.g. ^build-(?P<sort>\\d+)$; "
                                          "newest build: an optional filter."))
    include_prereleases = forms.BooleanField(required=False, label=_("Include pre-releases"))
    mode = forms.ChoiceField(choices=[("warn", _("Warning with a one-click bump")), ("auto", _("Automatic bump"))],
                             initial="warn", label=_("On a new tag"))

    def __init__(self, *args, repositories=(), **kwargs):
        """``repositories``: the project's infra repositories, read once for every form of the page."""
        super().__init__(*args, **kwargs)
        self.fields["repository"].choices = [(r.pk, r.name) for r in repositories]

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["auto_bump"] = data.pop("mode") == "auto"
        data.pop("repository")
        return data


class EventsField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(choices=list(EVENT_LABELS.items()), required=False, label=_("Events"),
                         help_text=_("None ticked: every event."), **kwargs)


class NotificationTargetForm(forms.Form):
    kind = forms.ChoiceField(choices=[(NotificationTarget.Kind.WEBHOOK, _("Webhook")),
                                      (NotificationTarget.Kind.EMAIL, _("E-mail"))], label=_("Kind"))
    url = forms.CharField(max_length=500, required=False, strip=False, label=_("Webhook URL"),
                          help_text=_("Webhooks: receives a signed POST per event; the signing secret is shown "
                                      "once, after adding."))
    emails = forms.CharField(required=False, label=_("E-mail addresses"),
                             help_text=_("E-mail: comma-separated addresses."))
    events = EventsField()

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["emails"] = [part.strip() for part in data["emails"].split(",") if part.strip()]
        if data["kind"] == NotificationTarget.Kind.WEBHOOK:
            data["emails"] = []
        else:
            data["url"] = ""
        return data


class NotificationTargetEditForm(forms.Form):
    events = EventsField()
    enabled = forms.BooleanField(required=False, label=_("Enabled"))
