"""The dashboard: the signed-in user's organizations and projects at a glance, searchable and paginated."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_safe

from console.selectors import dashboard_projects, needs_attention, organizations_visible_to

PROJECTS_PER_PAGE = 20


@login_required
@require_safe
def dashboard(request):
    query = request.GET.get("q", "").strip()[:100]
    attention_only = request.GET.get("show") == "attention"
    projects = dashboard_projects(request.user, query=query, attention_only=attention_only)
    page = Paginator(projects, PROJECTS_PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    return render(request, "portal/dashboard.html", {
        "query": query,
        "attention_only": attention_only,
        "page": page,
        "projects": rows,
        "organization_count": organizations_visible_to(request.user).count(),
        "attention": sum(1 for p in rows if needs_attention(p)),
    })
