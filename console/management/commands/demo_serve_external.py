from django.core.management.base import BaseCommand

from console import demo
from provisioning.githttp import GitHttpServer


class Command(BaseCommand):
    help = "Serve the demo's external repositories on loopback (they stand in for a product team's forge)."

    def handle(self, *args, **options):
        demo.create_external_repositories()
        server = GitHttpServer(demo.external_root(), demo.authorize_external, port=demo.DEMO_EXTERNAL_PORT)
        self.stdout.write(f"Demo external repositories at {server.url}/")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            server.stop()
