"""One command for the whole embedded stack: portal, Celery worker (with beat), local forge, demo repositories."""

import os
import signal
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the portal, a Celery worker, the local forge and the demo's external repositories together."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--no-demo", action="store_true", help="do not serve the demo external repositories")

    def handle(self, *args, **options):
        python = sys.executable
        manage = [python, str(settings.BASE_DIR / "manage.py")]
        beat_schedule = str(settings.DATA_DIR / "celerybeat-schedule")
        commands = {
            "portal": [*manage, "runserver", options["addr"], "--noreload"],
            "worker": [python, "-m", "celery", "-A", "console", "worker", "--beat", "--schedule", beat_schedule,
                       "--loglevel", "INFO", "--concurrency", "2", "--queues", "dso", "--hostname", "embedded@%h"],
        }
        if settings.FORGE_KIND == "local":
            commands["forge"] = [*manage, "forge_serve"]
        if not options["no_demo"]:
            commands["demo-git"] = [*manage, "demo_serve_external"]
        processes = {}
        for name, command in commands.items():
            processes[name] = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy(),
                start_new_session=True,
            )
            threading.Thread(target=self._relay, args=(name, processes[name]), daemon=True).start()
        self.stdout.write(f"DSO Console on http://{options['addr']}/  (Ctrl-C stops everything)")
        # `kill` (SIGTERM) must stop the children as Ctrl-C does: they run in sessions of their own.
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        try:
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            stopped = [name for name, p in processes.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(stopped)} stopped; shutting the rest down")
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes.values():
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)

    def _relay(self, name: str, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.stdout.write(f"{name:>9} | {line.rstrip()}")


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt
