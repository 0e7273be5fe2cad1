"""Real Celery processes for the tests (devtools/celery.py) against the tests' own Redis
database; a worker's metrics on a port of its own."""

import os
from pathlib import Path

import redis

from devtools import celery
from devtools.celery import CeleryProcess
from tests.support.servers import free_port

# The tests' own Redis database; fixtures empty it before and after each test.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def flush_test_redis() -> None:
    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


def start_worker(tmp_dir: Path, env: dict[str, str], *, name: str = "worker") -> CeleryProcess:
    """A worker with one pool process, its metrics on a free port; waits until it is ready."""
    metrics_dir = tmp_dir / f"metrics-{name}"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    metrics = {
        "WORKER_METRICS_PORT": str(port),
        "WORKER_METRICS_ADDR": "127.0.0.1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    worker = celery.start_worker(tmp_dir, {**metrics, **env}, name=name)
    worker.metrics_port = port
    return worker
