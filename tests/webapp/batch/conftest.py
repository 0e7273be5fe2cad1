"""Fixtures of the batch tests: in-process (eager) tasks, the real model service, Redis."""

import pytest

from tests.support.servers import free_port
from tests.webapp.batch.workers import TEST_REDIS_URL, flush_test_redis


@pytest.fixture
def eager():
    """Tasks run in this process when sent, as without REDIS_URL."""
    from webapp.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def model_service(settings, modelsvc_server):
    """The real model service, as this process's MODEL_SERVICE_URL."""
    settings.MODEL_SERVICE_URL = modelsvc_server.url
    return modelsvc_server


@pytest.fixture
def redis_url() -> str:
    """The tests' own Redis database, emptied before and after each test."""
    flush_test_redis()
    yield TEST_REDIS_URL
    flush_test_redis()


@pytest.fixture
def unreachable_broker(settings):
    """Tasks are sent to a Redis nobody listens on, as during a Redis restart."""
    from webapp.celery import app

    def reset_pools() -> None:
        # Connections are pooled per process; drop them so the broker URL below applies.
        # Celery has no public call for that.
        app._pool = None  # noqa: SLF001
        app.amqp._producer_pool = None  # noqa: SLF001

    previous = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager = False
    app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    reset_pools()
    yield
    app.conf.task_always_eager, app.conf.broker_url = previous
    reset_pools()
