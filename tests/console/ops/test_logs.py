"""Production log lines are JSON carrying the request id, or the run and task ids, with every known secret
replaced by ``***``; `make run` keeps the human-readable format."""

from __future__ import annotations

import io
import json
import logging

import pytest

from console.models import Repository, RunStatus, Trigger
from console.ops.logs import log_context, log_format_from_env, logging_config
from console.services.actors import Actor
from console.services.syncs import sync_request
from console.tasks import sync_execute_task
from tests.factories import make_project, make_repository

pytestmark = pytest.mark.django_db


def handler_from(config: dict) -> logging.Handler:
    """The handler the LOGGING dictionary builds, writing to a buffer instead of stderr."""
    formatter_config = dict(config["formatters"]["main"])
    factory = formatter_config.pop("()")
    module, _, name = factory.rpartition(".")
    formatter = getattr(__import__(module, fromlist=[name]), name)(**formatter_config)
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(formatter)
    filter_factory = config["filters"]["context"]["()"]
    module, _, name = filter_factory.rpartition(".")
    handler.addFilter(getattr(__import__(module, fromlist=[name]), name)())
    return handler


@pytest.fixture
def captured():
    handler = handler_from(logging_config(log_format="json", level="INFO"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def lines(handler) -> list[dict]:
    return [json.loads(line) for line in handler.stream.getvalue().splitlines() if line.strip()]


def test_a_request_logs_json_with_its_request_id_and_no_secret(client, settings, captured):
    secret = settings.LOCAL_FORGE_WRITE_TOKEN

    response = client.get(f"/no-such-page-{secret}/", HTTP_X_REQUEST_ID="req-42.abc")

    assert response.status_code == 404
    assert response["X-Request-ID"] == "req-42.abc"
    logged = [line for line in lines(captured) if line["logger"] == "django.request"]
    assert logged, captured.stream.getvalue()
    assert logged[0]["request_id"] == "req-42.abc"
    assert logged[0]["level"] == "WARNING" and logged[0]["time"]
    assert "/no-such-page-***/" in logged[0]["message"]
    assert secret not in captured.stream.getvalue()


def test_a_request_without_a_usable_id_gets_a_new_one(client, captured):
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="bad id\nwith a newline")

    assert response["X-Request-ID"] != "bad id\nwith a newline" and len(response["X-Request-ID"]) == 32
    assert lines(captured)[-1]["request_id"] == response["X-Request-ID"]


def test_a_task_logs_json_with_its_run_and_task_ids_and_not_the_repositorys_token(
        forge_server, private_external_forge, captured):
    repository = make_repository(make_project(), name="app", external_url=private_external_forge.url("missing"),
                                 is_private=True, username="ci", token=private_external_forge.token)
    run = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run

    sync_execute_task.apply(args=[run.pk], task_id="task-7f3e")

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    failed = [line for line in lines(captured) if "failed" in line["message"] and line["logger"].startswith("console")]
    assert failed, captured.stream.getvalue()
    assert failed[0]["run_id"] == str(run.pk)
    assert failed[0]["task_id"] == "task-7f3e"
    assert failed[0]["task"] == "dso.sync.execute"
    assert private_external_forge.token not in captured.stream.getvalue()


def test_whatever_was_decrypted_in_a_task_is_redacted_from_its_lines(captured):
    stored = make_repository(is_private=True, username="ci", token="repository-token-9c1d")

    with log_context(task_id="task-1", run_id=12):
        repository = Repository.objects.get(pk=stored.pk)  # decrypted here, so known to the log filter
        logging.getLogger("console.test").warning("git said: fatal: auth for %s failed", repository.token)
    logging.getLogger("console.test").warning("outside: no ids")

    inside, outside = lines(captured)[-2:]
    assert inside["message"] == "git said: fatal: auth for *** failed"
    assert inside["task_id"] == "task-1" and inside["run_id"] == "12"
    assert "task_id" not in outside and "run_id" not in outside


def test_production_logs_json_and_make_run_keeps_plain_lines(monkeypatch, settings):
    monkeypatch.delenv("DSO_LOG_FORMAT", raising=False)
    monkeypatch.delenv("DSO_ENV", raising=False)
    assert log_format_from_env() == "plain"
    monkeypatch.setenv("DSO_ENV", "production")
    assert log_format_from_env() == "json"
    monkeypatch.setenv("DSO_LOG_FORMAT", "plain")
    assert log_format_from_env() == "plain"
    # This test run is development: the settings' formatter is the readable one.
    assert settings.LOGGING["formatters"]["main"]["()"] == "console.ops.logs.RedactingFormatter"

    handler = handler_from(logging_config(log_format="plain", level="INFO"))
    record = logging.LogRecord("console.x", logging.INFO, __file__, 1, "pushed with %s", (settings.SECRET_KEY,),
                               None)
    with log_context(request_id="r-1"):
        handler.handle(record)
    text = handler.stream.getvalue()
    assert text.strip().endswith("INFO console.x pushed with *** [request_id=r-1]")
