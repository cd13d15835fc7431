"""PostgreSQL at scale: seed organizations, projects, repositories, runs and ref changes with set-based
INSERT ... SELECT generate_series (no ORM, no per-row round trip), then time the API and portal pages.

Run through bench/run.py; this module expects Django to be set up on the bench database.
"""

from __future__ import annotations

import statistics
import time

SIZES = {"organizations": 1_000, "projects": 10_000, "repositories": 50_000, "runs": 1_000_000,
         "ref_changes": 2_000_000, "deep_runs": 20_000}

# NOT NULL columns the seed does not name get a value of their type.
_TYPE_DEFAULTS = {"character varying": "''", "text": "''", "integer": "0", "bigint": "0", "smallint": "0",
                  "boolean": "false", "jsonb": "'{}'::jsonb", "timestamp with time zone": "now()"}


def _model_defaults(table: str) -> dict[str, str]:
    """The model's own constant defaults (e.g. a membership's source is 'console', not ''), as SQL literals."""
    from django.apps import apps
    from django.db.models import NOT_PROVIDED

    for model in apps.get_models():
        if model._meta.db_table == table:
            return {field.column: _literal(field.default) for field in model._meta.concrete_fields
                    if field.default is not NOT_PROVIDED and not callable(field.default)}
    return {}


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _insert(cursor, table: str, count_sql: str, values: dict[str, str]) -> None:
    defaults = _model_defaults(table)
    cursor.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
                   "AND is_nullable = 'NO' AND column_default IS NULL", [table])
    columns = dict(values)
    for name, kind in cursor.fetchall():
        if name not in columns and name != "id":
            columns[name] = defaults.get(name, _TYPE_DEFAULTS[kind])
    names = ", ".join(f'"{c}"' for c in columns)
    cursor.execute(f'INSERT INTO "{table}" ({names}) SELECT {", ".join(columns.values())} '
                   f"FROM generate_series(1, {count_sql}) AS g")


def seed(scale: float) -> dict:
    """Seed the (empty, migrated) bench database; returns ids of what the pages are measured on."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    n = {key: max(1, int(value * scale)) for key, value in SIZES.items()}
    n["projects"] = max(n["projects"], n["organizations"])
    User = get_user_model()
    staff = User.objects.create_user("bench-staff", password="bench-password", is_staff=True)
    member = User.objects.create_user("bench-member", password="bench-password")
    t0 = time.perf_counter()
    with connection.cursor() as c:
        _insert(c, "console_organization", str(n["organizations"]),
                {"slug": "'org-' || g", "name": "'Organization ' || g", "created_at": "now()"})
        c.execute("SELECT min(id) FROM console_organization")
        org0 = c.fetchone()[0]
        _insert(c, "console_project", str(n["projects"]), {
            "organization_id": f"{org0} + (g - 1) % {n['organizations']}", "slug": "'p-' || g",
            "name": "'Project ' || g", "namespace": "'ns-' || g", "status": "'ready'",
            "created_at": "now()", "updated_at": "now()"})
        c.execute("SELECT min(id) FROM console_project")
        project0 = c.fetchone()[0]
        # One user per organization as its owner, so that memberships are as many as in real life.
        _insert(c, "auth_user", str(n["organizations"]), {
            "username": "'owner-' || g", "password": "'!'", "is_superuser": "false", "is_staff": "false",
            "is_active": "true", "first_name": "''", "last_name": "''", "email": "''", "date_joined": "now()"})
        c.execute("SELECT min(id) FROM auth_user WHERE username LIKE 'owner-%%'")
        owner0 = c.fetchone()[0]
        _insert(c, "console_membership", str(n["organizations"]), {
            "user_id": f"{owner0} + g - 1", "organization_id": f"{org0} + g - 1", "role": "'owner'",
            "created_at": "now()"})
        # The member sees one project of 10,000 (0.01 %), through a project-level membership.
        c.execute("INSERT INTO console_membership (user_id, organization_id, project_id, role, source, created_at) "
                  "SELECT %s, organization_id, id, 'developer', 'console', now() FROM console_project WHERE id = %s",
                  [member.pk, project0])
        _insert(c, "console_repository", str(n["repositories"]), {
            "project_id": f"{project0} + (g - 1) % {n['projects']}", "name": "'repo-' || g",
            "external_url": "'https://git.example.com/team/repo-' || g || '.git'", "created_at": "now()"})
        c.execute("SELECT min(id) FROM console_repository")
        repo0 = c.fetchone()[0]
        # Runs: the deep repository (the member's project's first) gets deep_runs of them, the rest are
        # spread evenly; one in 20 failed; queue times one second apart, newest last.
        spread = n["runs"] - n["deep_runs"]
        _insert(c, "console_syncrun", str(n["runs"]), {
            "repository_id": f"CASE WHEN g <= {n['deep_runs']} THEN {repo0} "
                             f"ELSE {repo0} + 1 + (g - 1) % {max(1, n['repositories'] - 1)} END",
            "trigger": "'schedule'",
            "status": "CASE WHEN g % 20 = 0 THEN 'failed' WHEN g % 3 = 0 THEN 'succeeded' ELSE 'no_change' END",
            "queued_at": f"now() - ({n['runs']} - g) * interval '1 second'",
            "started_at": f"now() - ({n['runs']} - g) * interval '1 second'",
            "finished_at": f"now() - ({n['runs']} - g) * interval '1 second' + interval '2 seconds'",
            "error_code": "CASE WHEN g % 20 = 0 THEN 'unreachable' ELSE '' END",
            "trigger_detail": "'{}'::jsonb", "image_scan": "'{}'::jsonb"})
        del spread
        c.execute("SELECT min(id), max(id) FROM console_syncrun")
        run0, run1 = c.fetchone()
        _insert(c, "console_refchange", str(n["ref_changes"]), {
            "sync_run_id": f"{run0} + (g - 1) % {run1 - run0 + 1}", "ref": "'refs/heads/b' || (g % 7)",
            "old_sha": "md5(g::text) || 'abcdefgh'", "new_sha": "md5((g + 1)::text) || 'abcdefgh'",
            "kind": "'updated'"})
        c.execute("VACUUM ANALYZE")
        # Write the seed's dirty pages out now: otherwise the checkpointer does it during the page timings
        # that follow, and the pages measure the seed's write-back (p95 up by a third in a full run).
        c.execute("CHECKPOINT")
    seconds = time.perf_counter() - t0
    return {"sizes": n, "seconds": seconds, "staff": staff.pk, "member": member.pk, "project": project0,
            "repository": repo0}


def _timed(client, url: str, requests: int) -> dict:
    from django.db import connection

    queries = []

    def counting(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counting):
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:200])
    times = []
    # Timed as production renders: without the test environment's template instrumentation (which copies
    # every template context for the test client), restored afterwards for the pages' own navigation.
    from django.test.utils import setup_test_environment, teardown_test_environment

    teardown_test_environment()
    try:
        for _ in range(requests):
            t0 = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        setup_test_environment()
    times.sort()
    return {"p50": statistics.median(times), "p95": times[int(len(times) * 0.95) - 1], "queries": len(queries),
            "bytes": len(response.content)}


def pages(ids: dict, requests: int) -> dict[str, dict]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.test import APIClient

    User = get_user_model()
    clients = {}
    for role in ("staff", "member"):
        api, portal = APIClient(), Client()
        user = User.objects.get(pk=ids[role])
        api.force_authenticate(user)
        portal.force_login(user)
        clients[role] = (api, portal)
    repository, project = ids["repository"], ids["project"]
    api_staff, portal_staff = clients["staff"]
    api_member, portal_member = clients["member"]
    results = {
        "api syncs staff": _timed(api_staff, "/api/v1/syncs/", requests),
        "api syncs member": _timed(api_member, "/api/v1/syncs/", requests),
        "api failed syncs staff": _timed(api_staff, "/api/v1/syncs/?status=failed", requests),
        "api failed syncs member": _timed(api_member, "/api/v1/syncs/?status=failed", requests),
        "portal home staff": _timed(portal_staff, "/", requests),
        "portal project member": _timed(portal_member, f"/projects/{project}/", requests),
    }
    # Page 400 of the deep repository's history, reached as a reader would: by the page's own links when
    # it has them (keyset), else by ?page= (offset).
    url = f"/repositories/{repository}/syncs/"  # the history's own page, where the repository page's links lead
    context = portal_member.get(url).context
    page = context["page"]
    if hasattr(page, "older_query"):
        for _ in range(399):
            if not page.older_query:
                break
            target = f"{url}?{page.older_query}"
            page = portal_member.get(target).context["page"]
    else:
        target = f"{url}?page=400"
    results["portal deep history page"] = _timed(portal_member, target, requests)
    results["api deep history page"] = _deep_api(api_member, repository, requests)
    return results


def _deep_api(api, repository: int, requests: int) -> dict:
    url = f"/api/v1/repositories/{repository}/syncs/"
    body = api.get(url).json()
    if "count" in body and body.get("next") and "page=" in body["next"]:
        # 160 pages of 50 = 400 pages of 20; the last page when a smaller seed has fewer.
        return _timed(api, f"{url}?page={min(160, -(-body['count'] // 50))}", requests)
    for _ in range(159):
        if not body.get("next"):
            break
        url = body["next"]
        body = api.get(url).json()
    return _timed(api, url, requests)
