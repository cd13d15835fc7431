from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from console.integrations import get_forge
from provisioning.githttp import GitHttpServer


class Command(BaseCommand):
    help = "Serve the local forge's bare repositories over Git smart HTTP (read: read token, write: write token)."

    def handle(self, *args, **options):
        if settings.FORGE_KIND != "local":
            raise CommandError("forge_serve serves the local forge; DSO_FORGE is not 'local'")
        url = urlsplit(settings.LOCAL_FORGE_URL)
        forge = get_forge()
        settings.LOCAL_FORGE_ROOT.mkdir(parents=True, exist_ok=True)
        server = GitHttpServer(
            settings.LOCAL_FORGE_ROOT, forge.authorize, host=url.hostname or "127.0.0.1",
            port=url.port or 80, url_prefix=url.path.rstrip("/"),
        )
        self.stdout.write(f"Local forge serving {settings.LOCAL_FORGE_ROOT} at {server.url}")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            server.stop()
