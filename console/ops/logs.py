"""Log lines a log stack can index: JSON in production, each carrying the request id or the run and task ids.

The ids live in context variables set by ``console.ops.middleware`` (one per request) and by the Celery
signals of ``console.ops.celery_signals`` (one per task), so every line logged while serving them carries
them without any caller passing them along.

Secrets are removed by the rule the git layer applies to everything it raises
(``provisioning.git.env.redact``: each known secret value becomes ``***``). Known are the console's own
credentials from the settings and every value ``console.crypto`` decrypted in the current request or task
(a repository's token, say): whatever a library echoes of them never reaches the log stack.

Not Django-dependent at import time: gunicorn's config file imports it before Django is set up.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from provisioning.git.env import redact

# The ids a line is tagged with, and the secrets decrypted while serving this request or task.
_ids: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("dso_log_ids", default=None)
_scope_secrets: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar("dso_log_secrets", default=None)

# Secrets shorter than this are not redacted: replacing "a" everywhere would garble every line, and no
# credential the console handles is that short.
MIN_SECRET_LENGTH = 6
SETTINGS_SECRETS = ("SECRET_KEY", "GITLAB_TOKEN", "GITLAB_BOT_TOKEN", "LOCAL_FORGE_WRITE_TOKEN",
                    "LOCAL_FORGE_READ_TOKEN", "METRICS_TOKEN")


@contextmanager
def log_context(**ids: str | int | None) -> Iterator[None]:
    """Tag every line logged inside with these ids, and redact whatever is decrypted inside."""
    current = _ids.get() or {}
    tagged = {**current, **{name: str(value) for name, value in ids.items() if value not in (None, "")}}
    ids_token = _ids.set(tagged)
    secrets_token = _scope_secrets.set(set(_scope_secrets.get() or ()))
    try:
        yield
    finally:
        _scope_secrets.reset(secrets_token)
        _ids.reset(ids_token)


def open_scope(**ids: str | int | None) -> Callable[[], None]:
    """A fresh scope (nothing inherited) for one request; returns the function that closes it. For a request
    the scope must outlive the middleware: Django logs a 4xx/5xx response after the middleware returned it,
    so the scope is closed with the response."""
    ids_token = _ids.set({name: str(value) for name, value in ids.items() if value not in (None, "")})
    secrets_token = _scope_secrets.set(set())

    def close() -> None:
        try:
            _scope_secrets.reset(secrets_token)
            _ids.reset(ids_token)
        except ValueError:  # closed from another context (a server closing the response elsewhere)
            pass

    return close


def bind(**ids: str | int | None) -> None:
    """Add ids to the current scope (e.g. the run id once a task has looked it up)."""
    current = _ids.get()
    if current is not None:
        current.update({name: str(value) for name, value in ids.items() if value not in (None, "")})


def current_ids() -> dict[str, str]:
    return dict(_ids.get() or {})


def note_secret(value: str | None) -> None:
    """Called with every decrypted secret: redacted from lines logged in the same request or task."""
    scope = _scope_secrets.get()
    if scope is not None and value and len(value) >= MIN_SECRET_LENGTH:
        scope.add(value)


def _settings_secrets() -> tuple[str, ...]:
    try:
        from django.conf import settings

        if not settings.configured:
            return ()
        values = [getattr(settings, name, "") for name in SETTINGS_SECRETS]
        values += list(getattr(settings, "ENCRYPTION_KEYS", ()) or ())
        for database in getattr(settings, "DATABASES", {}).values():
            values.append(database.get("PASSWORD", ""))
    except Exception:  # noqa: BLE001 - settings that cannot load must not stop logging
        return ()
    return tuple(value for value in values if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH)


def redact_line(text: str) -> str:
    # Longest first, so a secret that contains another is removed whole.
    secrets = sorted({*_settings_secrets(), *(_scope_secrets.get() or ())}, key=len, reverse=True)
    return redact(text, *secrets)


class ContextFilter(logging.Filter):
    """Copies the context's ids onto each record (``request_id``, ``run_id``, ``task_id``, ``task``), and
    lifts the useful fields of gunicorn's access lines (whose request id is the response header)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_ids.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            atoms = record.args
            request_id = atoms.get("{x-request-id}o")
            if request_id and request_id != "-":
                record.request_id = request_id
            record.http = {"method": atoms.get("m"), "path": atoms.get("U"), "status": atoms.get("s"),
                           "duration_ms": atoms.get("M"), "bytes": atoms.get("B"), "remote": atoms.get("h")}
        return True


class RedactingFormatter(logging.Formatter):
    """The human-readable format of `make run`, with the ids appended when there are any."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        tags = " ".join(f"{name}={getattr(record, name)}" for name in ("request_id", "run_id", "task_id")
                        if getattr(record, name, None))
        return redact_line(f"{text} [{tags}]" if tags else text)


def _json_formatter_class():
    from pythonjsonlogger.json import JsonFormatter

    class RedactingJsonFormatter(JsonFormatter):
        """One JSON object per line; the whole line is redacted (message, exception and extra fields)."""

        def format(self, record: logging.LogRecord) -> str:
            if record.name == "gunicorn.access":
                # Its args are every header of the request (Authorization included): keep only the message.
                record.msg, record.args = record.getMessage(), None
            return redact_line(super().format(record))

    return RedactingJsonFormatter


def json_formatter(*args, **kwargs) -> logging.Formatter:
    """Factory for dictConfig's ``()`` key, so python-json-logger is imported only when JSON is wanted."""
    return _json_formatter_class()(*args, **kwargs)


def logging_config(*, log_format: str, level: str) -> dict:
    """The LOGGING dictionary: ``json`` (production's default) or ``plain`` (development's)."""
    if log_format == "json":
        formatter = {
            "()": "console.ops.logs.json_formatter",
            "fmt": "{levelname}{name}{message}",
            "style": "{",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601 in UTC
        }
    else:
        formatter = {"()": "console.ops.logs.RedactingFormatter",
                     "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    handler = {"class": "logging.StreamHandler", "formatter": "main", "filters": ["context"]}
    loggers: dict[str, dict] = {"django.db.backends": {"level": "WARNING"}}
    if log_format == "json":
        # gunicorn's own loggers do not propagate: give them the same handler so they are JSON too.
        for name in ("gunicorn.error", "gunicorn.access"):
            loggers[name] = {"handlers": ["console"], "level": "INFO", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "console.ops.logs.ContextFilter"}},
        "formatters": {"main": formatter},
        "handlers": {"console": handler},
        "root": {"handlers": ["console"], "level": level},
        "loggers": loggers,
    }


def log_format_from_env() -> str:
    """``DSO_LOG_FORMAT`` (json or plain); JSON by default in production, plain for `make run`. Read from the
    environment directly, so Celery can decide before Django's settings load."""
    import os

    chosen = (os.environ.get("DSO_LOG_FORMAT") or "").strip().lower()
    if chosen:
        return chosen
    return "json" if (os.environ.get("DSO_ENV") or "").strip() == "production" else "plain"
