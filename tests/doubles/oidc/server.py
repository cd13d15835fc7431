"""`python -m tests.doubles.oidc.server`: migrate the double's SQLite file, create its signing key and the
console's client, serve on 127.0.0.1 (port from OIDC_DOUBLE_PORT, 0 for any free one), then print one line
`READY <url> <client_id> <client_secret>` for the fixture to read.

Environment: OIDC_DOUBLE_DB, OIDC_DOUBLE_SECRET_KEY, OIDC_DOUBLE_CONTROL_TOKEN, OIDC_DOUBLE_CLIENT_ID,
OIDC_DOUBLE_CLIENT_SECRET, OIDC_DOUBLE_PORT.
"""

from __future__ import annotations

import os
import sys
import threading


def _signing_key() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from oidc_provider.models import RSAKey

    if RSAKey.objects.exists():
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    RSAKey.objects.create(key=pem.decode())


def _client(client_id: str, client_secret: str) -> None:
    from oidc_provider.models import Client, ResponseType

    client, _ = Client.objects.update_or_create(
        client_id=client_id,
        defaults={"name": "DSO Console", "client_type": "confidential", "client_secret": client_secret,
                  "jwt_alg": "RS256", "require_consent": False, "reuse_consent": True},
    )
    client.response_types.set([ResponseType.objects.get(value="code")])


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.doubles.oidc.provider.settings")
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    _signing_key()
    client_id = os.environ["OIDC_DOUBLE_CLIENT_ID"]
    client_secret = os.environ["OIDC_DOUBLE_CLIENT_SECRET"]
    _client(client_id, client_secret)

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            if os.environ.get("OIDC_DOUBLE_LOG_REQUESTS"):
                super().log_message(format, *args)

    server = ThreadedWSGIServer(("127.0.0.1", int(os.environ.get("OIDC_DOUBLE_PORT", "0"))), QuietHandler)
    server.daemon_threads = True
    url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.SITE_URL = url
    server.set_app(get_wsgi_application())
    # The fixture holds our stdin open; when it closes (the test run ended, or died) we stop serving.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    print(f"READY {url} {client_id} {client_secret}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
