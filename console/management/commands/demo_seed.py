from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from console import demo
from console.models import Organization, Project, Repository
from console.services.actors import Actor
from console.services.organizations import organization_create
from console.services.projects import project_create
from console.services.repositories import repository_register


class Command(BaseCommand):
    help = "Create the demo user, organization, project and external repositories (safe to run again)."

    def handle(self, *args, **options):
        demo.create_external_repositories()
        User = get_user_model()
        user, created = User.objects.get_or_create(username=demo.DEMO_USERNAME, defaults={"email": "demo@example.com"})
        if created:
            user.set_password(demo.DEMO_PASSWORD)
            user.save()
        admin, created = User.objects.get_or_create(
            username=demo.ADMIN_USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            admin.set_password(demo.ADMIN_PASSWORD)
            admin.save()
        actor = Actor.for_user(user, "system")
        with transaction.atomic():
            organization = Organization.objects.filter(slug="acme").first() or organization_create(
                actor=actor, slug="acme", name="ACME Corp"
            )
            project = Project.objects.filter(organization=organization, slug="shop").first()
            if project is None:
                project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop",
                                            description="The demo web shop")
            self._register(actor, project, "backend", "shop-backend.git",
                           image_name="registry.example.com/acme/shop-backend")
            self._register(actor, project, "deploy-helm", "shop-deploy-helm.git", is_private=True,
                           username="demo", token=demo.DEMO_EXTERNAL_TOKEN, is_infra=True, deploy_kind="helm",
                           deploy_path="chart", helm_value_files=["values.yaml", "values-prod.yaml"])
            self._register(actor, project, "deploy-kustomize", "shop-deploy-kustomize.git", is_infra=True,
                           username="demo", token=demo.DEMO_EXTERNAL_TOKEN,
                           deploy_kind="kustomize", deploy_path="overlays/prod")
        self.stdout.write(
            f"Demo ready: sign in as {demo.DEMO_USERNAME} / {demo.DEMO_PASSWORD} "
            f"(admin: {demo.ADMIN_USERNAME} / {demo.ADMIN_PASSWORD})"
        )

    def _register(self, actor, project, name, external_name, **fields):
        if Repository.objects.filter(project=project, name=name).exists():
            return
        repository_register(actor=actor, project=project, name=name, external_url=demo.external_url(external_name),
                            **fields)
