"""The Celery app of the web app: ``celery -A webapp.celery worker`` and ``... beat``.

Configuration comes from Django settings (``CELERY_*``, see the end of webapp/settings.py):
Redis from REDIS_URL carries the messages, job state lives in the database. Without
REDIS_URL an embedded broker (a SQLite file under var/) carries them, so a worker and beat
run locally with no server to install.

Task modules import ``app`` from here (not ``shared_task``), so the configured app is the
one used by every process that sends a task, the web app included.
"""

import logging
import os

from celery import Celery
from celery.signals import worker_init, worker_process_shutdown
from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
logger = logging.getLogger(__name__)

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["webapp.batch", "webapp.canary"])
app.autodiscover_tasks(["webapp.experiments"], related_name="notifications")


@worker_init.connect
def _serve_metrics(**_) -> None:
    """Expose the worker's metrics on WORKER_METRICS_PORT for Prometheus to scrape.

    Tasks run in pool processes; with PROMETHEUS_MULTIPROC_DIR set (required for the
    prefork pool) their counts are summed from that directory.
    """
    if not settings.WORKER_METRICS_PORT:
        return
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        logger.warning(
            "WORKER_METRICS_PORT without PROMETHEUS_MULTIPROC_DIR: counts made by pool "
            "processes are not exported"
        )
    start_http_server(
        settings.WORKER_METRICS_PORT, addr=settings.WORKER_METRICS_ADDR, registry=registry
    )


@worker_process_shutdown.connect
def _forget_pool_process(pid: int | None = None, **_) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid or os.getpid())
