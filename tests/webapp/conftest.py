"""Fixtures of the web app tests: a scriptable model service on a real socket, a webhook
receiver."""

import pytest

from tests.support.fake_model import _fake_server, dead_model, fake_model, two_models  # noqa: F401
from tests.webapp.experiments.webhooks import start_receiver


@pytest.fixture
def webhook(settings):
    """A real local server as EXPERIMENT_WEBHOOK_URL (with a token in its query), and
    webhook tasks run in this process when sent, as without a broker."""
    from webapp.celery import app

    receiver = start_receiver()
    settings.EXPERIMENT_WEBHOOK_URL = f"{receiver.url}/hooks/experiments?token=s3cret-token"
    settings.EXPERIMENT_WEBHOOK_FORMAT = "json"
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield receiver
    app.conf.task_always_eager = previous
    receiver.server.shutdown()
    receiver.server.server_close()
