"""One command for the whole embedded stack: portal, Celery worker (with beat), local forge, demo repositories."""

import os
import signal
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand

STOP_TIMEOUT_SECONDS = 15


class Command(BaseCommand):
    help = "Run the portal, a Celery worker, the local forge and the demo's external repositories together."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=settings.EMBEDDED_ADDR, help="default: DSO_EMBEDDED_ADDR")
        parser.add_argument("--no-demo", action="store_true",
                            help="do not serve the demo external repositories")

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
        # Ctrl-C (SIGINT) and `kill` (SIGTERM) both stop everything; set explicitly, because a process started
        # in the background by a script inherits SIGINT ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _stop_on_signal)
        processes, relays = {}, []
        try:
            for name, command in commands.items():
                # Own sessions: a terminal's Ctrl-C reaches only this command, which stops each child in turn.
                # cwd is the project so `celery -A console` imports it wherever `make run` was started from.
                processes[name] = subprocess.Popen(
                    command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                    env=os.environ.copy(), cwd=settings.BASE_DIR, start_new_session=True,
                )
                relay = threading.Thread(target=self._relay, args=(name, processes[name]), daemon=True)
                relay.start()
                relays.append(relay)
            self.stdout.write(f"DSO Console on http://{options['addr']}/  (Ctrl-C stops everything)")
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            stopped = [name for name, p in processes.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(stopped)} stopped; shutting the rest down")
        except KeyboardInterrupt:
            self.stdout.write("Stopping…")
        finally:
            # A second Ctrl-C must not cut the shutdown short and leave children running.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            # The worker first: its warm shutdown finishes the running tasks, which still need the forge and
            # the demo repositories; stopped together, those tasks fail with "unreachable" on every Ctrl-C.
            _stop([processes[name] for name in processes if name == "worker"])
            _stop([process for name, process in processes.items() if name != "worker"])
            for relay in relays:
                relay.join(timeout=2)  # print what the children said while stopping

    def _relay(self, name: str, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.stdout.write(f"{name:>9} | {line.rstrip()}")


def _stop(processes) -> None:
    """SIGTERM to each child's main process only, never to its process group: Celery's main process stops
    its pool itself (warm shutdown); pool processes killed from outside are logged as two ERROR lines."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            # Still alive, so its session is still ours: kill all of it (stuck pool processes, git children).
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _stop_on_signal(signum, frame):
    raise KeyboardInterrupt
