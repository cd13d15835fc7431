"""The authorization matrix: every route × method × actor, over real HTTP against a live server.

Routes come from the URLconf (tests/reliability/routes.py), so a new endpoint without a rule here fails
`test_every_route_has_a_rule`. Each rule names the weakest actor allowed; every other actor must be refused
(401/403/404, or the login page for the portal), every allowed one must get past authorization, and nobody
may get a 5xx. After an unsafe request that went through, the next request gets a new world, so that an archive or a
revoke by one actor cannot change what the next one sees.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests
from django.test import Client
from django.utils import timezone

from console.authorization import ACTIONS, ORGANIZATION, PLATFORM
from console.models import Cluster, Membership, Organization, Project, Repository, Role, SyncRun, Trigger
from console.models.images import ImageBump
from console.models.organizations import ROLE_RANK
from console.services.actors import Actor
from console.services.ci_tokens import ci_token_create, ci_token_revoke
from tests.factories import make_user
from tests.reliability.figures import record_figures
from tests.reliability.routes import ALL_METHODS, console_routes

pytestmark = pytest.mark.django_db(transaction=True)

# Who may do what, per (route name, method). A rule is an action of console.authorization.ACTIONS (the table
# every service authorizes with: its role, where the role is held, and the CI scope a pipeline needs), so
# what this test expects and what the console enforces come from one table. Routes no action guards say:
#   anyone            public, or the endpoint authenticates the request itself (a signature, a password):
#                     only the absence of 5xx is checked here, the endpoint's own tests check the rest
#   signed_in         any signed-in person (what they see is filtered by membership)
#   org:visible       a member of the organization or of one of its projects
#   own:signed_in     any signed-in person, on their own objects: another's answers 404, as if it did not exist
RULES: dict[tuple[str, str], str] = {
    ("api:auth-token", "POST"): "anyone",
    ("api:api-tokens", "GET"): "signed_in",
    ("api:api-tokens", "POST"): "signed_in",
    # OpenID Connect sign-in: the provider's signed answer is the credential (tests/console/oidc).
    ("oidc_login", "GET"): "anyone",
    ("oidc_callback", "GET"): "anyone",
    ("portal:api_tokens", "GET"): "signed_in",
    ("portal:api_tokens", "POST"): "signed_in",
    ("portal:api_token_revoke", "POST"): "own:signed_in",
    ("api:api-token-revoke", "POST"): "own:signed_in",
    ("api:hook-gitlab", "POST"): "anyone",
    ("api:hook-github", "POST"): "anyone",
    ("set_language", "POST"): "anyone",  # the language switcher: a cookie, nothing else
    ("schema", "GET"): "anyone",
    ("api-docs", "GET"): "anyone",
    ("api:api-root", "GET"): "signed_in",
    ("api:organization-list", "GET"): "signed_in",
    ("api:organization-list", "POST"): "signed_in",
    ("api:organization-detail", "GET"): "org:visible",
    ("api:organization-detail", "PATCH"): "organization.edit",
    ("api:project-list", "GET"): "signed_in",
    ("api:project-list", "POST"): "signed_in",  # the organization in the body decides; see the service test
    ("api:project-detail", "GET"): "project.view",
    ("api:project-detail", "PATCH"): "project.edit",
    ("api:project-archive", "POST"): "project.archive",
    ("api:project-lock", "POST"): "project.lock",
    ("api:project-unlock", "POST"): "project.lock",
    ("api:project-argocd-credentials", "GET"): "project.argocd_credentials",
    ("api:project-manifests", "GET"): "project.view",
    ("api:project-members", "GET"): "project.view",
    ("api:project-members", "POST"): "project.members",
    ("api:project-remove-member", "DELETE"): "project.members",
    ("api:project-provision", "POST"): "project.provision",
    ("api:project-provisioning-runs", "GET"): "project.view",
    ("api:project-repositories", "GET"): "project.view",
    ("api:project-repositories", "POST"): "repository.register",
    ("api:project-warnings", "GET"): "project.view",
    ("api:project-deployments", "GET"): "project.view",
    ("api:project-drift", "GET"): "project.view",
    ("api:project-refresh", "POST"): "project.refresh",
    ("api:repository-detail", "GET"): "repository.view",
    ("api:repository-detail", "PATCH"): "repository.manage",
    ("api:repository-detail", "DELETE"): "repository.manage",
    ("api:repository-sync", "POST"): "repository.sync",
    ("api:repository-syncs", "GET"): "repository.view",
    ("api:repository-images", "GET"): "repository.view",
    ("api:repository-image-built", "POST"): "repository.report_build",
    ("api:repository-image-tags", "GET"): "repository.view",
    ("api:repository-image-tags", "POST"): "repository.bump",
    ("api:repository-ci-tokens", "GET"): "repository.ci_manage",
    ("api:repository-ci-tokens", "POST"): "repository.ci_manage",
    ("api:repository-ci-token", "DELETE"): "repository.ci_manage",
    ("api:repository-ci-token-revoke", "POST"): "repository.ci_manage",
    ("api:repository-ci-settings", "GET"): "repository.ci_manage",
    ("api:repository-ci-settings", "PATCH"): "repository.ci_manage",
    ("api:repository-webhook-secret", "POST"): "repository.ci_manage",
    ("api:image-bump", "GET"): "repository.view",
    ("api:project-move-cluster", "POST"): "project.move_cluster",
    ("api:cluster-list", "GET"): "cluster.manage",
    ("api:cluster-list", "POST"): "cluster.manage",
    ("api:cluster-detail", "GET"): "cluster.manage",
    ("api:cluster-detail", "PATCH"): "cluster.manage",
    ("api:cluster-detail", "DELETE"): "cluster.manage",
    ("api:cluster-test", "POST"): "cluster.manage",
    ("api:repository-sync-schedule", "GET"): "repository.view",
    ("api:repository-sync-schedule", "PUT"): "repository.manage",
    ("api:repository-pins", "GET"): "repository.view",
    ("api:repository-pins", "POST"): "repository.pin",
    ("api:repository-unpin", "POST"): "repository.pin",
    ("api:repository-rollback", "POST"): "repository.pin",
    ("api:project-registries", "GET"): "project.view",
    ("api:project-registries", "POST"): "registry.manage",
    ("api:registry-images", "POST"): "registry.manage",
    ("api:registry-image-policy", "PUT"): "registry.manage",
    ("api:registry-watch", "POST"): "registry.manage",
    ("api:registry-detail", "PATCH"): "registry.manage",
    ("api:registry-detail", "DELETE"): "registry.manage",
    ("api:registry-image", "DELETE"): "registry.manage",
    ("api:notification-target", "PATCH"): "project.edit",
    ("api:notification-target", "DELETE"): "project.edit",
    ("api:image-tag-ledger", "GET"): "signed_in",
    ("api:repository-merge-request-settings", "PUT"): "repository.manage",
    ("api:project-notification-targets", "GET"): "project.edit",
    ("api:project-notification-targets", "POST"): "project.edit",
    ("api:project-notification-deliveries", "GET"): "project.edit",
    ("api:image-inventory", "GET"): "platform.image_inventory",
    ("api:syncrun-list", "GET"): "signed_in",
    ("api:syncrun-detail", "GET"): "repository.view",
    ("portal:home", "GET"): "signed_in",
    ("portal:dashboard", "GET"): "signed_in",
    ("portal:operations", "GET"): "platform.operations",
    ("portal:operations", "POST"): "platform.operations",
    ("portal:organization_member_add", "POST"): "organization.members",
    ("portal:organization_member_remove", "POST"): "organization.members",
    ("portal:organization_new", "GET"): "signed_in",
    ("portal:organization_new", "POST"): "signed_in",
    ("portal:organization", "GET"): "org:visible",
    ("portal:organization_project_new", "GET"): "org:visible",
    ("portal:organization_project_new", "POST"): "project.create",
    ("portal:project_new", "GET"): "signed_in",
    ("portal:project_new", "POST"): "signed_in",
    ("portal:project", "GET"): "project.view",
    ("portal:project_provision", "POST"): "project.provision",
    ("portal:project_quota", "POST"): "project.edit",
    ("portal:project_archive", "POST"): "project.archive",
    ("portal:project_manifests", "GET"): "project.view",
    ("portal:project_manifests_yaml", "GET"): "project.view",
    ("portal:member_add", "POST"): "project.members",
    ("portal:member_remove", "POST"): "project.members",
    ("portal:repository_new", "POST"): "repository.register",
    ("portal:repository", "GET"): "repository.view",
    ("portal:image_bump", "POST"): "repository.bump",
    ("portal:sync_new", "POST"): "repository.sync",
    ("portal:repository_sync_schedule", "POST"): "repository.manage",
    ("portal:image_rollback", "POST"): "repository.pin",
    ("portal:image_unpin", "POST"): "repository.pin",
    ("portal:image_tag_ledger", "GET"): "signed_in",
    ("portal:image_inventory", "GET"): "platform.image_inventory",
    ("portal:repository_ci_token_new", "POST"): "repository.ci_manage",
    ("portal:repository_ci_token_revoke", "POST"): "repository.ci_manage",
    ("portal:repository_ci_settings", "POST"): "repository.ci_manage",
    ("portal:repository_webhook_secret", "POST"): "repository.ci_manage",
    ("portal:sync_partial", "GET"): "repository.view",
    ("portal:project_live", "GET"): "project.view",
    ("portal:project_refresh", "POST"): "project.refresh",
    ("portal:repository_live", "GET"): "repository.view",
    ("portal:repository_syncs", "GET"): "repository.view",
    ("portal:repository_edit", "GET"): "repository.manage",
    ("portal:repository_edit", "POST"): "repository.manage",
    ("portal:repository_remove", "GET"): "repository.manage",
    ("portal:repository_remove", "POST"): "repository.manage",
    ("portal:project_registries", "GET"): "project.view",
    ("portal:project_registries", "POST"): "registry.manage",
    ("portal:project_registry_edit", "GET"): "registry.manage",
    ("portal:project_registry_edit", "POST"): "registry.manage",
    ("portal:project_registry_remove", "POST"): "registry.manage",
    ("portal:project_registry_watch", "POST"): "registry.manage",
    ("portal:project_registry_image_add", "POST"): "registry.manage",
    ("portal:project_registry_image_remove", "POST"): "registry.manage",
    ("portal:project_registry_policy", "POST"): "registry.manage",
    # As through the API: a target's URL or addresses are the maintainers' to see.
    ("portal:project_notifications", "GET"): "project.edit",
    ("portal:project_notifications", "POST"): "project.edit",
    ("portal:project_notification_edit", "POST"): "project.edit",
    ("portal:project_notification_remove", "POST"): "project.edit",
}

USER_ACTORS = ("anonymous", "outsider", "reader", "developer", "maintainer", "owner",
               "org_maintainer", "org_owner", "staff")
CI_ACTORS = ("ci_sync", "ci_all", "ci_other_repository", "ci_expired", "ci_revoked", "ci_forged")
CSRF = "a" * 32  # any 32-character secret: the cookie and the header only have to agree


@dataclass
class World:
    organization: Organization
    project: Project
    repository: Repository
    sync_run: SyncRun
    bump: ImageBump
    membership: Membership  # a victim membership the owner may remove
    ci_token_id: int
    ci_secrets: dict[str, str]
    cluster: Cluster
    registry: object = None
    watched_image_id: int = 0
    notification_target_id: int = 0

    def values(self) -> dict[str, object]:
        return {"pk": "?", "slug": self.organization.slug, "membership_id": self.membership.pk,
                "token_id": self.ci_token_id, "image_id": self.watched_image_id, "format": "json",
                "image": "registry.example.com/shop/web", "tag": "1.2.3", "registry_id": self.registry.pk,
                "target_id": self.notification_target_id}


def build_world(users: dict) -> World:
    tag = secrets.token_hex(3)
    organization = Organization.objects.create(slug=f"org-{tag}", name="Org")
    project = Project.objects.create(organization=organization, slug="shop", name="Shop",
                                     namespace=f"org-{tag}-shop")
    for role in (Role.READER, Role.DEVELOPER, Role.MAINTAINER, Role.OWNER):
        Membership.objects.create(user=users[role.value], organization=organization, project=project, role=role)
    Membership.objects.create(user=users["org_maintainer"], organization=organization, role=Role.MAINTAINER)
    Membership.objects.create(user=users["org_owner"], organization=organization, role=Role.OWNER)
    victim = Membership.objects.create(user=users["victim"], organization=organization, project=project,
                                       role=Role.DEVELOPER)
    repository = Repository.objects.create(project=project, name="infra", is_infra=True, deploy_kind="helm",
                                           external_url="https://git.example.com/team/infra.git")
    other_org = Organization.objects.create(slug=f"other-{tag}", name="Other")
    other_project = Project.objects.create(organization=other_org, slug="shop", name="Shop",
                                           namespace=f"other-{tag}-shop")
    Membership.objects.create(user=users["outsider"], organization=other_org, project=other_project,
                              role=Role.OWNER)
    other_repository = Repository.objects.create(project=other_project, name="infra",
                                                 external_url="https://git.example.com/other/infra.git")
    run = SyncRun.objects.create(repository=repository, trigger=Trigger.API, status="succeeded")
    bump = ImageBump.objects.create(repository=repository, image="registry.example.com/shop/web", tag="1.2.3")
    maker = Actor.for_user(users["staff"], "api")
    scopes_all = ["sync", "report_build", "bump"]
    ci = {}
    _, ci["ci_sync"] = ci_token_create(actor=maker, repository=repository, name="sync", scopes=["sync"])
    _, ci["ci_all"] = ci_token_create(actor=maker, repository=repository, name="all", scopes=scopes_all)
    _, ci["ci_other_repository"] = ci_token_create(actor=maker, repository=other_repository, name="other",
                                                   scopes=scopes_all)
    expired, ci["ci_expired"] = ci_token_create(actor=maker, repository=repository, name="expired",
                                                scopes=scopes_all,
                                                expires_at=timezone.now() + timedelta(seconds=1))
    revoked, ci["ci_revoked"] = ci_token_create(actor=maker, repository=repository, name="revoked",
                                                scopes=scopes_all)
    ci_token_revoke(actor=maker, token=revoked)
    type(expired).objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    # A JWT-shaped credential signed by nobody the console trusts.
    ci["ci_forged"] = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2V2aWwifQ." + "x" * 40
    victim_token, _ = ci_token_create(actor=maker, repository=repository, name="victim", scopes=["sync"])
    cluster = Cluster.objects.create(name=f"cluster-{tag}", api_url="http://127.0.0.1:9", token="matrix-token")
    from console.models import ContainerRegistry, WatchedImage

    registry = ContainerRegistry.objects.create(project=project, name="main", url="https://registry.example.com")
    watched = WatchedImage.objects.create(registry=registry, repository="shop/web")
    from console.models import NotificationTarget

    target = NotificationTarget.objects.create(project=project, kind="email", emails=["ops@example.com"])
    return World(organization, project, repository, run, bump, victim, victim_token.pk, ci, cluster, registry,
                 watched.pk, target.pk)


def pk_for(route_name: str, world: World) -> object:
    resource = route_name.rpartition(":")[2]
    # portal:repository_new is /projects/<pk>/repositories/: its pk is the project's. Given a repository's
    # id it passed or failed by whether that id happened to be some world's project with the same roles.
    if resource.startswith(("project", "member")) or resource == "repository_new":
        return world.project.pk
    if resource.startswith("organization"):
        return world.organization.pk
    if resource.startswith("syncrun") or resource == "sync_partial":
        return world.sync_run.pk
    if resource.startswith("image-bump"):
        return world.bump.pk
    if resource.startswith("cluster"):
        return world.cluster.pk
    if resource.startswith("registry-"):
        return world.registry.pk
    if resource == "notification-target":
        return world.notification_target_id
    return world.repository.pk


# Actions no HTTP route guards (the admin and the services' own tests cover them).
ACTIONS_WITHOUT_ROUTE = {"organization.quota_limits"}  # admin site only


def expectation(rule: str) -> tuple[str, str]:
    """(who among users, CI scope or "") for a rule: an action's entry in ACTIONS, or a descriptor above."""
    if rule not in ACTIONS:
        return rule.removeprefix("own:"), ""
    entry = ACTIONS[rule]
    if entry.level == PLATFORM:
        return "staff", entry.ci_scope or ""
    return f"{'org' if entry.level == ORGANIZATION else 'project'}:{entry.role}", entry.ci_scope or ""


def allowed(rule: str, actor: str) -> bool:
    user_rule, ci_scope = expectation(rule)
    if user_rule == "anyone":
        return True
    if actor.startswith("ci_"):
        if not ci_scope:
            return False
        return actor == "ci_all" or (actor == "ci_sync" and ci_scope == "sync")
    if actor == "anonymous":
        return False
    if user_rule == "signed_in" or actor == "staff":
        return True
    if user_rule == "staff":
        return False
    scope, _, needed = user_rule.partition(":")
    org_level = {"org_maintainer": Role.MAINTAINER, "org_owner": Role.OWNER}
    project_level = {"reader": Role.READER, "developer": Role.DEVELOPER, "maintainer": Role.MAINTAINER,
                     "owner": Role.OWNER}
    if scope == "org":
        if needed == "visible":
            return actor in org_level or actor in project_level
        return actor in org_level and ROLE_RANK[org_level[actor]] >= ROLE_RANK[needed]
    role = org_level.get(actor) or project_level.get(actor)
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]


def refused(response: requests.Response, *, portal: bool) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    return portal and response.status_code == 302 and "/accounts/login" in response.headers.get("Location", "")


@pytest.fixture
def users(db):
    names = [*USER_ACTORS[1:], "victim"]
    return {name: make_user(f"matrix-{name}", staff=(name == "staff")) for name in names}


def sessions_for(users, live_server) -> dict[str, requests.Session]:
    result = {}
    for actor in (*USER_ACTORS, *CI_ACTORS):
        session = requests.Session()
        session.cookies.set("csrftoken", CSRF)
        session.headers["X-CSRFToken"] = CSRF
        if actor in users:
            client = Client()
            client.force_login(users[actor])
            session.cookies.set("sessionid", client.cookies["sessionid"].value)
        result[actor] = session
    return result


def test_every_rule_names_an_action_and_every_action_is_exercised():
    descriptors = {"anyone", "signed_in", "org:visible", "own:signed_in"}
    unknown = {key: rule for key, rule in RULES.items() if rule not in ACTIONS and rule not in descriptors}
    assert not unknown, f"rules that are neither an action of console.authorization nor a descriptor: {unknown}"
    unexercised = set(ACTIONS) - set(RULES.values()) - ACTIONS_WITHOUT_ROUTE
    assert not unexercised, f"actions no route of the matrix exercises: {sorted(unexercised)}"


def test_every_route_has_a_rule():
    missing, unknown = [], set(RULES)
    for route in console_routes():
        if route.has_format_suffix:
            continue
        methods = route.methods or [m for (name, m) in RULES if name == route.name]
        if not methods:
            missing.append(f"{route.name} (a function view: name its methods in RULES)")
        for method in methods:
            if (route.name, method) in RULES:
                unknown.discard((route.name, method))
            else:
                missing.append(f"{method} {route.name}")
    assert not missing, "routes without an authorization rule: " + ", ".join(missing)
    assert not unknown, f"rules for routes that no longer exist: {sorted(unknown)}"


@pytest.mark.timeout(1200)
def test_authorization_matrix(live_server, users, settings):
    # Every actor calls from 127.0.0.1 and the expired, revoked and forged CI tokens fail on purpose: the
    # credential throttle (tested in tests/console/test_throttle.py) would soon answer 429 to everyone.
    settings.LOGIN_FAILURE_LIMIT = 1_000_000
    sessions = sessions_for(users, live_server)
    shared = build_world(users)
    violations, counted, stale = [], 0, False
    for route in console_routes():
        if route.has_format_suffix:
            continue
        declared = {m for (name, m) in RULES if name == route.name}
        for method in ALL_METHODS:
            rule = RULES.get((route.name, method))
            for actor in (*USER_ACTORS, *CI_ACTORS):
                if rule is None and actor not in ("anonymous", "staff"):
                    continue  # an undeclared method only needs showing refused to the weakest and strongest
                if actor.startswith("ci_") and not route.is_api:
                    continue  # the portal knows only sessions; a bearer credential there is anonymous
                if stale:
                    shared, stale = build_world(users), False
                world = shared
                path = route.path({**world.values(), "pk": pk_for(route.name, world)})
                headers = {}
                if actor.startswith("ci_"):
                    headers["Authorization"] = f"Bearer {world.ci_secrets[actor]}"
                response = sessions[actor].request(method, live_server.url + path, json={} if route.is_api
                                                   else None, data=None if route.is_api else {},
                                                   headers=headers, allow_redirects=False, timeout=30)
                counted += 1
                # An unsafe request that went through may have archived, revoked or removed something.
                stale = method != "GET" and response.status_code < 400
                label = f"{actor} {method} {path} -> {response.status_code}"
                if response.status_code >= 500:
                    violations.append(f"server error: {label}")
                elif rule is None:
                    # The portal sends an anonymous caller to the login page before looking at the method:
                    # that is a refusal too, not an answer.
                    if (response.status_code < 400 and method not in declared
                            and not refused(response, portal=not route.is_api)):
                        violations.append(f"undeclared method answered: {label}")
                elif rule == "anyone":
                    pass
                elif allowed(rule, actor):
                    if rule.startswith("own:") and response.status_code == 404:
                        pass  # the world's object belongs to someone else: hidden, which is the rule
                    elif refused(response, portal=not route.is_api):
                        violations.append(f"wrongly refused ({rule}): {label}")
                elif not refused(response, portal=not route.is_api):
                    violations.append(f"wrongly allowed ({rule}): {label}")
    record_figures("authorization matrix", {"routes": len(console_routes()), "requests": counted,
                                            "violations": len(violations)})
    assert not violations, f"{len(violations)} of {counted} requests broke the rules:\n" + "\n".join(violations)
