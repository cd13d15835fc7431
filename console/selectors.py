"""Reads that need care: what a user may see, fetched with a constant number of queries."""

from __future__ import annotations

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from console.models import Membership, Organization, Project, Repository, SyncRun


def _visible_project_ids(user) -> QuerySet:
    """The ids of the projects a member sees, as one ``IN (direct UNION org-wide)`` subquery.

    An OR of two correlated EXISTS is estimated as matching most projects (75 % instead of 0.01 % at
    10,000 projects), so PostgreSQL then scans and sorts whole run histories; a UNION of two small
    membership lookups is estimated from the user's own rows and joins the histories by their indexes."""
    direct = Membership.objects.filter(user=user, project__isnull=False).order_by().values("project_id")
    org_wide = Project.objects.filter(
        organization_id__in=Membership.objects.filter(user=user, project__isnull=True).values("organization_id")
    ).order_by().values("pk")
    return direct.union(org_wide)


def organizations_visible_to(user) -> QuerySet[Organization]:
    if user.is_staff:
        return Organization.objects.all()
    return Organization.objects.filter(Exists(Membership.objects.filter(user=user, organization=OuterRef("pk"))))


def projects_visible_to(user) -> QuerySet[Project]:
    projects = Project.objects.select_related("organization")
    if user.is_staff:
        return projects
    return projects.filter(pk__in=_visible_project_ids(user))


def repositories_visible_to(user) -> QuerySet[Repository]:
    repositories = Repository.objects.select_related("project__organization")
    if user.is_staff:
        return repositories
    return repositories.filter(project_id__in=_visible_project_ids(user))


# A run's ``refs`` (every branch and tag of the repository as the run left it) is read only by the next sync;
# a history page of a repository with 500 tags would otherwise load 20 copies of them.
HISTORY_DEFERRED = ("refs",)


def _history_rows(runs: QuerySet[SyncRun]) -> QuerySet[SyncRun]:
    """Runs as a history row shows them: who asked, what refs changed; the repository by id only."""
    return runs.select_related("actor").prefetch_related("ref_changes").defer(*HISTORY_DEFERRED)


def _sync_runs() -> QuerySet[SyncRun]:
    return _history_rows(SyncRun.objects.select_related("repository__project__organization"))


def sync_runs_of(*, repository: Repository | None = None, project: Project | None = None) -> QuerySet[SyncRun]:
    """The runs of one repository or project the caller already may see (the views fetched it visibly)."""
    if repository is not None and project is None:
        # Through the repository's own manager each run gets that repository object (Django's known related
        # objects): no join of the repository, its project and organization per run, nor their model objects.
        return _history_rows(repository.sync_runs.all())
    runs = _sync_runs()
    if repository is not None:
        runs = runs.filter(repository=repository)
    if project is not None:
        runs = runs.filter(repository__project=project)
    return runs


def recent_sync_runs_of_project(project: Project, *, limit: int,
                                repositories: list[Repository] | None = None) -> list[SyncRun]:
    """The newest runs across a project's repositories, newest first.

    Filtering the history by ``repository.project`` makes PostgreSQL read every run of every repository
    and sort them (a deep history costs ~10 ms); taking each repository's newest ``limit`` off its own
    (repository, queued_at, id) index in a LATERAL join and merging those few reads ``limit × repositories``
    rows at most. Given the project's ``repositories`` (the page has them already), each run gets its own
    instead of joining repository, project and organization again for every run."""
    if connection.vendor != "postgresql":
        runs = sync_runs_of(project=project)
    else:
        newest = RawSQL(
            "SELECT newest.id FROM console_repository repository CROSS JOIN LATERAL ("
            " SELECT run.id FROM console_syncrun run WHERE run.repository_id = repository.id"
            " ORDER BY run.queued_at DESC, run.id DESC LIMIT %s) newest WHERE repository.project_id = %s",
            [limit, project.pk],
        )
        # The outer query selects by primary key only: repeating the project filter there makes the planner
        # walk the history index again for each candidate.
        runs = _sync_runs().filter(pk__in=newest)
    if repositories is None:
        return list(runs.order_by("-queued_at", "-id")[:limit])
    by_id = {repository.pk: repository for repository in repositories}
    runs = list(runs.select_related(None).select_related("actor").order_by("-queued_at", "-id")[:limit])
    for run in runs:
        run.repository = by_id.get(run.repository_id) or run.repository  # one removed meanwhile: fetched
    return runs


def sync_runs_visible_to(user) -> QuerySet[SyncRun]:
    return _visible_runs(_sync_runs(), user)


def _visible_runs(runs: QuerySet[SyncRun], user) -> QuerySet[SyncRun]:
    if user.is_staff:
        # No filter at all: a staff history is read straight off the (queued_at, id) index.
        return runs
    return runs.filter(repository__project_id__in=_visible_project_ids(user))


# A narrowed page reads at most (its limit) runs of each visible repository. Past this many rows in all (500
# repositories for a page of 50; fewer deep in a run of equal queued_at, where the cursor's offset grows) a
# member sees a large share of all runs, and walking the global (queued_at, id) index finds a page sooner.
NARROWED_HISTORY_MAX_ROWS = 25_500


def sync_run_history_visible_to(user, *, status: str | None = None, window=None) -> QuerySet[SyncRun]:
    """The runs of a history page (``window``: an ``api.pagination.HistoryWindow``), newest first.

    A member's runs joined through the visible projects are estimated from the average repository (20
    runs); one repository with 20,000 makes PostgreSQL sort all of them for a page of 50 (43 ms). Read
    instead, in one query, each visible repository's first ``window.limit`` runs within the window off its
    own index, and page over those: the same page, from at most limit × repositories rows."""
    # A history row names its repository by id: no repository, project and organization per run.
    runs = _visible_runs(_history_rows(SyncRun.objects.all()), user)
    if status:
        runs = runs.filter(status=status)
    if user.is_staff or window is None or connection.vendor != "postgresql":
        return runs
    most = NARROWED_HISTORY_MAX_ROWS // window.limit
    repository_ids = list(Repository.objects.filter(project_id__in=_visible_project_ids(user))
                          .order_by().values_list("pk", flat=True)[:most + 1])
    if len(repository_ids) > most:
        return runs
    bounds, params = [], [repository_ids]
    if status:
        bounds.append("run.status = %s")
        params.append(status)
    if window.position is not None:
        bounds.append("run.queued_at < %s" if window.newest_first else "run.queued_at > %s")
        params.append(window.position)
    direction = "DESC" if window.newest_first else "ASC"
    where = "".join(f" AND {bound}" for bound in bounds)
    candidates = RawSQL(
        "SELECT candidate.id FROM unnest(%s::bigint[]) AS repository(id) CROSS JOIN LATERAL ("
        " SELECT run.id, run.queued_at FROM console_syncrun run WHERE run.repository_id = repository.id"
        f"{where} ORDER BY run.queued_at {direction}, run.id {direction} LIMIT %s) candidate"
        f" ORDER BY candidate.queued_at {direction}, candidate.id {direction} LIMIT %s",
        [*params, window.limit, window.limit],
    )
    # The candidates come from visible repositories only and already meet the status: filtering the outer
    # query by either again would make the planner walk the history index once more for each of them.
    return _history_rows(SyncRun.objects.filter(pk__in=candidates))


def project_members(project: Project) -> QuerySet[Membership]:
    return (
        Membership.objects.select_related("user", "project", "organization")
        .filter(Q(project=project) | Q(organization_id=project.organization_id, project__isnull=True))
        .order_by("user__username")
    )


def with_last_sync(repositories: QuerySet[Repository]) -> QuerySet[Repository]:
    latest = SyncRun.objects.filter(repository=OuterRef("pk")).order_by("-queued_at", "-id")
    return repositories.annotate(
        last_sync_id=Subquery(latest.values("id")[:1]),
        last_sync_status=Subquery(latest.values("status")[:1]),
        last_sync_finished_at=Subquery(latest.values("finished_at")[:1]),
        last_sync_image_scan_status=Subquery(latest.values("image_scan_status")[:1]),
    )


ACTIVITY_FEED_SIZE = 15


def project_activity_feed(project: Project, *, limit: int = ACTIVITY_FEED_SIZE) -> list:
    """The project's latest audit events, newest first, in one query: the project itself, its repositories,
    its current memberships, and events whose snapshot names the project."""
    from django.db.models import CharField
    from django.db.models.functions import Cast

    from console.models import AuditEvent

    repository_ids = Repository.objects.filter(project=project).values_list(Cast("pk", CharField()), flat=True)
    membership_ids = Membership.objects.filter(project=project).values_list(Cast("pk", CharField()), flat=True)
    return list(
        AuditEvent.objects.filter(
            Q(target_type="console.project", target_id=str(project.pk))
            | Q(target_type="console.repository", target_id__in=repository_ids)
            | Q(target_type="console.membership", target_id__in=membership_ids)
            | Q(after__project=project.pk)
            | Q(before__project=project.pk)
        ).select_related("actor")[:limit]
    )


def with_deployment_health(projects: QuerySet[Project]) -> QuerySet[Project]:
    """Each project with its deployments at a glance, as correlated subqueries of the same query (no query
    per row): ``deployment_health`` (a DeploymentHealth value: the worst Application its infra repositories
    read back, or why there is none), ``deployment_read_at`` (the last successful read), ``deployment_stale``
    (the cluster did not answer the last pass: the facts shown are the last known) and ``drift_open``."""
    from django.db.models import Case, Count, IntegerField, Max, Value, When
    from django.db.models.functions import Coalesce

    from console.models import Cluster, Deployment, DeploymentHealth, DriftRecord

    # Each Application's state and how bad it is; the project shows its worst Application's. An Application
    # in none of these (Suspended, sync Unknown) is "unknown": worse than healthy, better than progressing.
    states = [(DeploymentHealth.DEGRADED, 6, Q(health_status="Degraded")),
              (DeploymentHealth.MISSING, 5, Q(found=False) | Q(health_status="Missing")),
              (DeploymentHealth.OUT_OF_SYNC, 4, Q(sync_status="OutOfSync")),
              (DeploymentHealth.PROGRESSING, 3, Q(health_status="Progressing")),
              (DeploymentHealth.HEALTHY, 1, Q(health_status="Healthy", sync_status="Synced"))]
    observed = Deployment.objects.filter(project=OuterRef("pk"), observed_at__isnull=False)
    worst = observed.annotate(
        rank=Case(*(When(q, then=Value(rank)) for _, rank, q in states), default=Value(2),
                  output_field=IntegerField()),
        state=Case(*(When(q, then=Value(state)) for state, _, q in states),
                   default=Value(DeploymentHealth.UNKNOWN)),
    ).order_by("-rank").values("state")[:1]
    read = observed.order_by().values("project")
    read_at = read.annotate(at=Max("observed_at")).values("at")
    drift = (DriftRecord.objects.filter(project=OuterRef("pk"), resolved_at__isnull=True)
             .order_by().values("project").annotate(n=Count("pk")).values("n"))
    projects = projects.annotate(
        deployment_read_at=Subquery(read_at),
        deployment_stale=Exists(Deployment.objects.filter(project=OuterRef("pk")).exclude(error_code="")
                                .exclude(error_code="no_cluster")),
        has_infra=Exists(Repository.objects.filter(project=OuterRef("pk"), is_infra=True)),
        # Not correlated: PostgreSQL evaluates it once for the whole page.
        default_cluster=Exists(Cluster.objects.filter(is_default=True)),
        drift_open=Coalesce(Subquery(drift, output_field=IntegerField()), Value(0)),
    )
    return projects.annotate(deployment_health=Case(
        When(cluster__isnull=True, default_cluster=False, then=Value(DeploymentHealth.NO_CLUSTER)),
        When(has_infra=False, then=Value(DeploymentHealth.NO_INFRA)),
        # The worst Application computed here only: an annotation named in a When is inlined each time.
        default=Coalesce(Subquery(worst), Value(DeploymentHealth.NOT_READ)),
    ))


def needs_attention(project: Project) -> bool:
    """A dashboard row to look at: failed, warnings waiting, a failed last sync, unhealthy or drifted."""
    from console.models import DEPLOYMENT_HEALTH_ATTENTION, RunStatus

    return bool(project.open_warnings or project.last_sync_status == RunStatus.FAILED
                or project.status == "failed" or project.deployment_health in DEPLOYMENT_HEALTH_ATTENTION
                or project.drift_open)


def dashboard_projects(user, *, query: str = "", attention_only: bool = False) -> QuerySet[Project]:
    """The user's projects for the dashboard, each with its last sync (status and time, across its
    repositories), its repository count, its open image warnings, failed last syncs and deployment health
    (with_deployment_health): one query. ``attention_only`` keeps the rows needs_attention() flags."""
    from django.db.models import Count, IntegerField, Value
    from django.db.models.functions import Coalesce

    from console.models.images import ImageRelease

    latest = SyncRun.objects.filter(repository__project=OuterRef("pk")).order_by("-queued_at", "-id")
    warnings = (ImageRelease.objects.filter(project=OuterRef("pk"), resolved_at__isnull=True)
                .order_by().values("project").annotate(n=Count("pk")).values("n"))
    repositories = (Repository.objects.filter(project=OuterRef("pk")).order_by().values("project")
                    .annotate(n=Count("pk")).values("n"))
    projects = projects_visible_to(user).select_related("organization").annotate(
        last_sync_status=Subquery(latest.values("status")[:1]),
        last_sync_at=Subquery(latest.values("queued_at")[:1]),
        last_sync_repository=Subquery(latest.values("repository_id")[:1]),
        open_warnings=Coalesce(Subquery(warnings, output_field=IntegerField()), Value(0)),
        # A subquery, not Count() over a join: a GROUP BY would make PostgreSQL compute every other
        # subquery here for all the user's projects before sorting, instead of for the page's rows only.
        repository_count=Coalesce(Subquery(repositories, output_field=IntegerField()), Value(0)),
    )
    projects = with_deployment_health(projects)
    if query:
        projects = projects.filter(Q(name__icontains=query) | Q(slug__icontains=query)
                                   | Q(organization__slug__icontains=query)
                                   | Q(organization__name__icontains=query))
    if attention_only:
        from console.models import DEPLOYMENT_HEALTH_ATTENTION, RunStatus

        projects = projects.filter(Q(open_warnings__gt=0) | Q(last_sync_status=RunStatus.FAILED)
                                   | Q(status="failed") | Q(deployment_health__in=DEPLOYMENT_HEALTH_ATTENTION)
                                   | Q(drift_open__gt=0))
    return projects.order_by("organization__slug", "slug")
