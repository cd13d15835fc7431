"""Organization members in the portal: who holds which organization-wide role, finding people by name,
adding, changing and removing them. The rules (who may, the last owner stays) are the services'."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.authorization import allows
from console.models import Membership, Organization
from console.portal.forms import MemberForm
from console.portal.views.common import forbidden, portal_actor, refusal
from console.selectors import organizations_visible_to
from console.services.errors import DomainError, PermissionDenied
from console.services.memberships import membership_remove, membership_set

USER_SEARCH_RESULTS = 10


def user_search(query: str) -> list:
    """Active people whose username or name contains `query` (at least 2 characters), at most 10."""
    query = query.strip()[:100]
    if len(query) < 2:
        return []
    return list(get_user_model().objects.filter(is_active=True).filter(
        Q(username__icontains=query) | Q(first_name__icontains=query) | Q(last_name__icontains=query)
        | Q(email__icontains=query)).order_by("username")[:USER_SEARCH_RESULTS])


def organization_members_context(request, organization: Organization, *, member_form=None) -> dict:
    """What the organization page adds when the user may manage its members (else nothing)."""
    if not allows(portal_actor(request), "organization.members", organization):
        return {}
    query = request.GET.get("find", "")
    return {
        "show_members": True,
        "org_members": Membership.objects.filter(organization=organization, project__isnull=True)
        .select_related("user").order_by("user__username"),
        "org_member_form": member_form or MemberForm(prefix="member"),
        "user_query": query,
        "user_matches": user_search(query),
    }


def _members_url(organization: Organization) -> str:
    return reverse("portal:organization", args=[organization.slug]) + "#members"


@login_required
@require_POST
def organization_member_add(request, slug: str):
    organization = get_object_or_404(organizations_visible_to(request.user), slug=slug)
    if denied := refusal(request, "organization.members", organization):
        return denied
    form = MemberForm(request.POST, prefix="member")
    if form.is_valid():
        try:
            membership = membership_set(actor=portal_actor(request), organization=organization, **form.cleaned_data)
        except PermissionDenied as error:
            return forbidden(request, error)
        except DomainError as error:
            messages.error(request, "; ".join(
                str(m) for ms in (error.message.values() if isinstance(error.message, dict) else [[error.message]])
                for m in (ms if isinstance(ms, (list, tuple)) else [ms])))
        else:
            messages.success(request, _("%(user)s is now %(role)s of %(organization)s.") % {
                "user": membership.user.username, "role": membership.get_role_display(),
                "organization": organization.slug})
    else:
        messages.error(request, _("Choose a user and a role."))
    return redirect(_members_url(organization))


@login_required
@require_POST
def organization_member_remove(request, slug: str, membership_id: int):
    organization = get_object_or_404(organizations_visible_to(request.user), slug=slug)
    if denied := refusal(request, "organization.members", organization):
        return denied
    # Any membership of the organization: organization-wide ones are listed on its page, and an owner of the
    # organization may remove a project role too (the service authorizes that on the project).
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=membership_id,
                                   organization=organization)
    try:
        membership_remove(actor=portal_actor(request), membership=membership)
    except PermissionDenied as error:
        return forbidden(request, error)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Removed %(user)s (%(role)s).") % {
            "user": membership.user.username, "role": membership.get_role_display()})
    return redirect(_members_url(organization))
