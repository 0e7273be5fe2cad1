"""Webhook notifications against a real local HTTP server: sent after commit, recorded,
retried with backoff, Slack's shape, and no token in logs or records."""

import logging
import os
import subprocess
import sys

import pytest
from django.db import transaction

from tests.support.servers import free_port
from webapp.experiments import notifications, services
from webapp.experiments.models import Delivery, DeliveryStatus, WebhookEvent

pytestmark = pytest.mark.django_db


def test_a_rollback_is_posted_after_commit_and_recorded(
    experiment, webhook, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.rollback_experiment(experiment, actor="alice", reason="B is slow")
        # Nothing is sent while the change is not committed.
        assert webhook.received == []
    for callback in callbacks:
        callback()

    [request] = webhook.received
    assert request.path == "/hooks/experiments?token=s3cret-token"
    assert request.content_type == "application/json"
    body = request.body
    assert (body["experiment"], body["event"], body["actor"]) == (
        experiment.name,
        "rolled_back",
        "alice",
    )
    assert body["old"] == {"status": "running", "weight": 0.1}
    assert body["new"] == {"status": "rolled_back", "weight": 0.1}
    assert body["text"] == f"Rolled back {experiment.name}: every visitor now sees A."
    assert body["note"] == "B is slow"
    assert body["time"]
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (
        DeliveryStatus.DELIVERED,
        1,
        200,
    )
    assert delivery.target == webhook.url  # scheme and host only
    assert delivery.delivered_at
    assert "s3cret-token" not in caplog.text
    assert f"to {webhook.url}: HTTP 200" in caplog.text


def test_a_change_that_is_rolled_back_notifies_nobody(
    experiment, webhook, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.promote_experiment(experiment, actor="alice")
        raise RuntimeError("the request failed after the change")
    assert webhook.received == []
    assert not Delivery.objects.exists()


def test_start_and_promotion_are_notified_and_pausing_is_not(
    experiment, webhook, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.pause_experiment(experiment, actor="bob")
        services.start_experiment(experiment, actor="bob")
        services.promote_experiment(experiment, actor="bob")
    assert webhook.events() == ["started", "promoted"]
    assert webhook.bodies()[1]["text"] == f"Promoted {experiment.name}: every visitor now sees B."


def queued(experiment) -> Delivery:
    delivery = notifications.notify(
        experiment,
        WebhookEvent.STARTED,
        actor="alice",
        old={"status": "draft"},
        new={"status": "running"},
        text="Started it.",
    )
    assert delivery is not None
    return delivery


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(experiment, webhook, settings):
    settings.EXPERIMENT_WEBHOOK_BACKOFF_FACTOR = 2.0
    webhook.statuses = [500, 503]
    delivery = queued(experiment)

    assert notifications.attempt(delivery.pk) == 4  # factor 2, doubled per attempt
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code, delivery.last_error) == (
        DeliveryStatus.RETRYING,
        1,
        500,
        "HTTP 500",
    )
    assert notifications.attempt(delivery.pk) == 8
    assert notifications.attempt(delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code, delivery.last_error) == (
        DeliveryStatus.DELIVERED,
        3,
        200,
        "",
    )
    assert len(webhook.received) == 3
    # A redelivered message does not post again.
    assert notifications.attempt(delivery.pk) is None
    assert len(webhook.received) == 3


def test_a_refusal_is_not_retried_and_attempts_are_bounded(experiment, webhook, settings):
    webhook.statuses = [404]
    refused = queued(experiment)
    assert notifications.attempt(refused.pk) is None
    refused.refresh_from_db()
    assert (refused.status, refused.response_code) == (DeliveryStatus.FAILED, 404)

    settings.EXPERIMENT_WEBHOOK_ATTEMPTS = 2
    webhook.statuses = [500, 500, 500]
    failing = queued(experiment)
    assert notifications.attempt(failing.pk) is not None
    assert notifications.attempt(failing.pk) is None
    failing.refresh_from_db()
    assert (failing.status, failing.attempts) == (DeliveryStatus.FAILED, 2)


def test_without_a_broker_a_failure_is_tried_once_in_the_request(
    experiment, webhook, django_capture_on_commit_callbacks
):
    webhook.statuses = [500]
    with django_capture_on_commit_callbacks(execute=True):
        services.start_new_phase(experiment, actor="alice")  # sends nothing
        services.rollback_experiment(experiment, actor="alice")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        DeliveryStatus.FAILED,
        1,
        "HTTP 500",
    )


def test_an_unreachable_receiver_is_retried_and_its_token_kept_out(experiment, settings, caplog):
    caplog.set_level(logging.INFO)
    port = free_port()
    userinfo = ":".join(("hook-user", "s3cret-token"))  # built here: no literal credential
    settings.EXPERIMENT_WEBHOOK_URL = f"http://{userinfo}@127.0.0.1:{port}/x?k=s3cret"
    delivery = queued(experiment)
    assert notifications.attempt(delivery.pk) is not None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.response_code is None
    assert "ConnectionError" in delivery.last_error
    assert delivery.target == f"http://127.0.0.1:{port}"
    for text in (delivery.last_error, delivery.target, caplog.text):
        assert "s3cret" not in text and "hook-user" not in text


def test_the_slack_variant_posts_only_text(
    experiment, webhook, settings, django_capture_on_commit_callbacks
):
    settings.EXPERIMENT_WEBHOOK_FORMAT = "slack"
    with django_capture_on_commit_callbacks(execute=True):
        services.rollback_experiment(experiment, actor="alice")
    assert webhook.bodies() == [
        {"text": f"Rolled back {experiment.name}: every visitor now sees A."}
    ]


def test_without_a_url_nothing_is_recorded(experiment, settings):
    settings.EXPERIMENT_WEBHOOK_URL = ""
    services.rollback_experiment(experiment, actor="alice")
    assert not Delivery.objects.exists()


def test_an_unknown_webhook_format_stops_the_app_at_start():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings"}
    env["EXPERIMENT_WEBHOOK_FORMAT"] = "xml"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "EXPERIMENT_WEBHOOK_FORMAT must be json or slack" in result.stderr
