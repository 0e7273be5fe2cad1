"""Webhooks on the real stack: a change made here is sent through Redis to a real Celery
worker, which posts it to a real local server, waits, and retries after a 500."""

import time

import pytest

from tests.webapp.batch.workers import TEST_REDIS_URL, flush_test_redis, start_worker
from tests.webapp.experiments.helpers import make_experiment
from tests.webapp.experiments.webhooks import start_receiver
from webapp.experiments import services
from webapp.experiments.models import Delivery, DeliveryStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broker():
    """Tasks sent from this process go to the tests' Redis (emptied before and after), as
    in production."""
    from webapp.celery import app

    flush_test_redis()

    def reset_pools() -> None:
        # Connections are pooled per process; drop them so the broker URL below applies.
        # Celery has no public call for that.
        app._pool = None  # noqa: SLF001
        app.amqp._producer_pool = None  # noqa: SLF001

    previous = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager = False
    app.conf.broker_url = TEST_REDIS_URL
    reset_pools()
    yield TEST_REDIS_URL
    app.conf.task_always_eager, app.conf.broker_url = previous
    reset_pools()
    flush_test_redis()


def test_a_worker_retries_a_failed_delivery_until_it_arrives(
    live_database_url, broker, settings, tmp_path
):
    receiver = start_receiver()
    receiver.statuses = [500]
    url = f"{receiver.url}/hook?token=s3cret-token"
    settings.EXPERIMENT_WEBHOOK_URL = url
    worker = start_worker(
        tmp_path,
        {
            "DATABASE_URL": live_database_url,
            "REDIS_URL": broker,
            "EXPERIMENT_WEBHOOK_URL": url,
            "EXPERIMENT_WEBHOOK_BACKOFF_FACTOR": "0.25",  # the first retry after 1 s
        },
    )
    try:
        experiment = make_experiment("worker-hook")
        services.rollback_experiment(experiment, actor="alice", reason="B fails")
        deadline = time.monotonic() + 30
        delivery = Delivery.objects.get()
        while delivery.status != DeliveryStatus.DELIVERED and time.monotonic() < deadline:
            time.sleep(0.1)
            delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.DELIVERED, worker.logs()[-3000:]
        assert (delivery.attempts, delivery.response_code) == (2, 200)
        bodies = receiver.wait_for(2)
        assert bodies[0] == bodies[1]  # the same event, sent again
        assert (bodies[1]["event"], bodies[1]["note"]) == ("rolled_back", "B fails")
        assert "Retry in 1s" in worker.logs()
        assert "s3cret-token" not in worker.logs()
    finally:
        worker.stop()
        receiver.server.shutdown()
        receiver.server.server_close()
