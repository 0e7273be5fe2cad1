"""Fixtures of the batch tests: in-process (eager) tasks, the real model service, Redis."""

import pytest
from django.conf import settings

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


@pytest.fixture(scope="module")
def module_database_url(django_db_setup, django_db_blocker) -> str:
    """The test database's URL for servers that live as long as a module (the data itself
    is committed by tests marked transactional)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
