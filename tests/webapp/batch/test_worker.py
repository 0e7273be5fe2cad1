"""Batch jobs on the real stack: the web app (gunicorn) sends them through Redis to a real
Celery worker, which calls the real model service and writes to the test database."""

import csv
import io
import time

import pytest
import requests

from tests.support.servers import A1, A2, free_port, poll, start_server
from tests.webapp.batch.workers import TEST_REDIS_URL, start_worker
from webapp.batch.models import BatchJob, BatchRow

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def web(module_webapp):
    # Chunks are cut when the upload is stored: small ones make a job of a few hundred rows
    # last long enough to kill a worker in the middle of it.
    return module_webapp(
        "batch-web",
        {"REDIS_URL": TEST_REDIS_URL, "BATCH_CHUNK_SIZE": "5", "BATCH_FANOUT": "1"},
        ready_path="/health/live",
    )


@pytest.fixture
def workers(live_database_url, redis_url, tmp_path):
    """Starts workers on this test's database and Redis; stops them all afterwards."""
    started = []

    def start(model_service_url: str, **env: str):
        worker = start_worker(
            tmp_path,
            {
                "DATABASE_URL": live_database_url,
                "REDIS_URL": redis_url,
                "MODEL_SERVICE_URL": model_service_url,
                **env,
            },
            name=f"worker{len(started) + 1}",
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def submit(web, path, name: str) -> str:
    with path.open("rb") as handle:
        response = requests.post(f"{web.url}/api/batch", files={"file": (name, handle)}, timeout=30)
    assert response.status_code == 202, response.text
    body = response.json()
    # A worker does the work, not the upload request (which may find it started already:
    # the job is sent before the answer is made).
    assert body["status"] in {"queued", "running", "done"}
    return body["id"]


def job_state(web, job_id: str) -> dict:
    response = requests.get(f"{web.url}/api/batch/{job_id}", timeout=10)
    assert response.status_code == 200
    return response.json()


def wait_until(web, job_id: str, done, timeout: float, worker) -> dict:
    return poll(lambda: job_state(web, job_id), done, timeout, logs=worker.logs)


def assert_every_row_classified_once(job_id: str, total: int) -> None:
    rows = list(BatchRow.objects.filter(job_id=job_id).values_list("row", "sentiment"))
    assert len(rows) == total
    assert sorted(row for row, _ in rows) == list(range(1, total + 1))
    assert {sentiment for _, sentiment in rows} <= {"positive", "negative"}
    job = BatchJob.objects.get(pk=job_id)
    assert job.processed_rows == total


def test_the_fresh_dump_is_classified_by_a_worker(web, workers, modelsvc_server):
    worker = workers(modelsvc_server.url)
    job_id = submit(web, A2, "a2.tsv")

    state = wait_until(web, job_id, lambda s: s["status"] in {"done", "failed"}, 60, worker)

    assert state["status"] == "done", state
    assert state["progress"]["processed"] == state["progress"]["total"] == 100
    assert state["summary"]["positive"] + state["summary"]["negative"] == 100
    response = requests.get(web.url + state["results_url"], timeout=10)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 100
    assert all(row["sentiment"] in {"positive", "negative"} for row in rows)
    assert all(0.5 <= float(row["confidence"]) <= 1 for row in rows)
    assert_every_row_classified_once(job_id, 100)
    assert worker.metric("sentiment_batch_jobs_total", {"status": "done"}) == 1


def test_a_killed_worker_is_replaced_without_losing_or_repeating_rows(
    web, workers, modelsvc_server
):
    # Small chunks (the web fixture's) and short deliveries make the job slow enough to kill
    # in the middle; a short visibility timeout hands the killed worker's message on quickly.
    env = {
        "BATCH_TASK_BUDGET_SECONDS": "1",
        "BROKER_VISIBILITY_TIMEOUT": "3",
        "BROKER_RESTORE_INTERVAL": "1",
    }
    first = workers(modelsvc_server.url, **env)
    job_id = submit(web, A1, "a1.tsv")
    # Watched in the database itself: an HTTP poll on a busy machine may see it too late.
    deadline = time.monotonic() + 60
    while BatchJob.objects.get(pk=job_id).processed_rows < 30 and time.monotonic() < deadline:
        time.sleep(0.005)

    first.kill()

    job = BatchJob.objects.get(pk=job_id)
    before_restart = job.processed_rows
    assert job.status == "running"
    assert 30 <= before_restart < 900, "the job must be cut off in the middle"
    time.sleep(1)
    assert BatchJob.objects.get(pk=job_id).processed_rows == before_restart  # nobody works

    second = workers(modelsvc_server.url, **env)
    state = wait_until(web, job_id, lambda s: s["status"] in {"done", "failed"}, 90, second)

    assert state["status"] == "done", state
    assert_every_row_classified_once(job_id, 900)
    # The new worker classified exactly the rows the killed one had not stored...
    classified = second.metric("sentiment_batch_rows_total", {"outcome": "classified"})
    assert classified == 900 - before_restart
    # ...and counted the job once.
    assert second.metric("sentiment_batch_jobs_total", {"status": "done"}) == 1


def test_the_job_waits_for_the_model_service_and_resumes(web, workers, model_dir, tmp_path):
    port = free_port()
    model_env = {"MODEL_DIR": str(model_dir)}
    modelsvc = start_server("modelsvc", tmp_path / "m1", model_env, port=port)
    worker = workers(modelsvc.url, BATCH_CHUNK_SIZE="20", BATCH_RETRY_BACKOFF_MAX="2")
    try:
        modelsvc.stop()
        job_id = submit(web, A2, "a2.tsv")
        waiting = wait_until(web, job_id, lambda s: s["notice"] is not None, 30, worker)
        assert waiting["status"] == "running"
        assert "model service" in waiting["notice"]
        worker.wait_for_log("retry 3 in", timeout=30)  # it keeps trying, without giving up
        assert job_state(web, job_id)["status"] == "running"

        modelsvc = start_server("modelsvc", tmp_path / "m2", model_env, port=port)

        state = wait_until(web, job_id, lambda s: s["status"] in {"done", "failed"}, 60, worker)
    finally:
        modelsvc.stop()
    assert state["status"] == "done", state
    assert state["notice"] is None
    assert state["progress"]["processed"] == 100
    assert_every_row_classified_once(job_id, 100)
