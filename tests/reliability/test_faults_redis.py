"""Redis (the Celery broker) goes away: predictions keep working, a batch uploaded meanwhile
is kept and waits, and it is processed once Redis is back, by the real worker and beat.

The test runs its own memory-only redis-server on a free port and stops and restarts it
there; the machine's shared Redis is never touched."""

import os
import time

import pytest
import requests

from devtools.celery import start_beat, start_worker
from tests.reliability.harness import RedisServer, start_webapp, wait_until
from webapp.batch.models import BatchJob, BatchRow

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CSV = b"Review\nThe soup was wonderful\nCold fries, rude waiter\nWould come back\n"


@pytest.fixture
def stack(shared_db, tiny_modelsvc, tmp_path):
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    env = {
        "REDIS_URL": redis.url,
        "DATABASE_URL": shared_db,
        "MODEL_SERVICE_URL": tiny_modelsvc.url,
    }
    webapp = start_webapp(tmp_path / "web", tiny_modelsvc.url, {"REDIS_URL": redis.url})
    celery_env = {**env, "DJANGO_SETTINGS_MODULE": "tests.reliability.fast_sweep_settings"}
    worker = start_worker(
        tmp_path / "worker",
        celery_env,
        name=f"reliability-{os.getpid()}",
        options=["--pool=solo", "--without-heartbeat"],
    )
    beat = start_beat(tmp_path / "beat", celery_env)
    yield {"redis": redis, "webapp": webapp, "worker": worker, "beat": beat}
    for process in (beat, worker, webapp):
        process.stop()
    redis.stop()


def upload(url: str) -> dict:
    started = time.monotonic()
    response = requests.post(url + "/api/batch", files={"file": ("r.csv", CSV)}, timeout=60)
    assert response.status_code == 202, response.text[:300]
    assert time.monotonic() - started < 20, "the upload hung on the missing broker"
    return response.json()


def job_status(url: str, job_id: str) -> dict:
    return requests.get(f"{url}/api/batch/{job_id}", timeout=10).json()


def wait_done(stack, job_id: str, timeout: float) -> dict:
    url = stack["webapp"].url
    try:
        return wait_until(
            lambda: (job := job_status(url, job_id))["status"] == "done" and job,
            timeout,
            interval=0.5,
            what=f"job {job_id} done",
        )
    except TimeoutError:
        worker, beat = stack["worker"].logs()[-2500:], stack["beat"].logs()[-1500:]
        raise AssertionError(f"worker log:\n{worker}\nbeat log:\n{beat}") from None


def test_batches_wait_for_redis_and_resume_while_predictions_go_on(stack):
    url = stack["webapp"].url
    first = upload(url)
    wait_done(stack, first["id"], 60)  # the pipeline works end to end

    stack["redis"].stop()
    prediction = requests.post(url + "/api/analyze", json={"review": "Still fine"}, timeout=30)
    assert prediction.status_code == 200, prediction.text[:300]
    waiting = upload(url)
    time.sleep(2)
    assert job_status(url, waiting["id"])["status"] == "queued"

    stack["redis"].start()  # same port, empty: messages sent before the outage are gone
    done = wait_done(stack, waiting["id"], 60)
    assert done["progress"] == {"processed": 3, "total": 3, "percent": 100.0}
    results = requests.get(url + done["results_url"], timeout=10)
    assert results.status_code == 200 and len(results.text.strip().splitlines()) == 4

    job = BatchJob.objects.get(pk=waiting["id"])
    rows = BatchRow.objects.filter(job=job)
    assert rows.count() == 3 and not rows.filter(sentiment="").exists()
    assert (
        requests.post(url + "/api/analyze", json={"review": "After"}, timeout=30).status_code == 200
    )
