from django.core.management.base import BaseCommand

from console.services.oidc import oidc_resync_all


class Command(BaseCommand):
    help = ("Recompute every OpenID Connect user's group roles and platform-admin flag from the groups seen at "
            "their last sign-in (run after changing DSO_OIDC_*_GROUP_PATTERN or DSO_OIDC_ADMIN_GROUP, or "
            "creating organizations and projects that groups already name). Roles given in the console stay. "
            "It cannot see group changes made at the provider since each user's last sign-in: those apply at "
            "their next one.")

    def handle(self, *args, **options):
        counts = oidc_resync_all()
        self.stdout.write(f"Resynced {counts['users']} OIDC users: {counts['added']} roles added, "
                          f"{counts['changed']} changed, {counts['removed']} removed.")
