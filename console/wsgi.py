import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
application = get_wsgi_application()


def _load_routes() -> None:
    """Import the URLconf, and with it every view, when a worker boots rather than on its first request.

    Measured in bench/burst.py: a gunicorn worker's first request cost 1.3–2.3 s under load (47–71 ms once
    warm) because Django resolves its URLconf lazily; a burst of triggers landing on fresh workers paid it."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the property import is the point


_load_routes()
