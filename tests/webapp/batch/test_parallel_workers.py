"""Several real workers share one job on a real PostgreSQL: each chunk is claimed by one
worker only (``FOR UPDATE SKIP LOCKED``), and a worker killed in the middle leaves its
chunk to the others, so every row is classified once and the model service sees each
review once, apart from at most the killed worker's chunks in flight."""

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from tests.reliability.harness import postgres_database
from tests.support.servers import A1, poll, start_server
from tests.webapp.batch.workers import start_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHUNK = 25
THREADS = 2
COPIES = 10  # A1's 900 reviews, ten times over


def model_reviews_classified(modelsvc_url: str) -> float:
    """Reviews the model service classified so far (sentiment_model_predictions_total)."""
    text = requests.get(f"{modelsvc_url}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("sentiment_model_predictions_total{")
    )


def job_counts(db_url: str, job_id: str) -> tuple[str, int, int]:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT status, processed_rows, total_rows FROM batch_batchjob WHERE id = %s",
            [job_id],
        ).fetchone()
    return row


def wait_for(db_url: str, job_id: str, done, timeout: float, logs) -> tuple[str, int, int]:
    return poll(lambda: job_counts(db_url, job_id), done, timeout, interval=0.02, logs=logs)


def test_workers_split_one_job_and_survive_one_of_them_being_killed(
    modelsvc_server, redis_url, tmp_path
):
    lines = A1.read_text().splitlines()
    reviews = [line.split("\t")[0] for line in lines[1:]] * COPIES
    upload = tmp_path / "reviews.tsv"
    upload.write_text("Review\n" + "\n".join(reviews) + "\n")
    total = len(reviews)
    env = {
        "REDIS_URL": redis_url,
        "MODEL_SERVICE_URL": modelsvc_server.url,
        "BATCH_CHUNK_SIZE": str(CHUNK),
        "BATCH_WORKER_THREADS": str(THREADS),
        "BATCH_FANOUT": "8",
    }
    with postgres_database(tmp_path) as db_url:
        env["DATABASE_URL"] = db_url
        web = start_server("webapp", tmp_path / "web", env, ready_path="/health/live")
        with ThreadPoolExecutor(3) as pool:  # they start side by side
            workers = list(
                pool.map(
                    lambda n: start_worker(tmp_path / f"w{n}", env, name=f"worker{n}"),
                    range(1, 4),
                )
            )
        try:
            model_before = model_reviews_classified(modelsvc_server.url)
            with upload.open("rb") as handle:
                response = requests.post(
                    f"{web.url}/api/batch", files={"file": ("r.tsv", handle)}, timeout=60
                )
            assert response.status_code == 202, response.text
            job_id = response.json()["id"]

            def logs() -> str:
                return "\n".join(worker.logs() for worker in workers)

            wait_for(db_url, job_id, lambda s: s[1] >= total // 5, 60, logs)
            workers[0].kill()  # mid-job, with chunks in flight
            at_kill = job_counts(db_url, job_id)
            assert at_kill[0] == "running"
            assert at_kill[1] < total, "the job must still be running when a worker dies"

            state = wait_for(db_url, job_id, lambda s: s[0] != "running", 120, logs)
            assert state == ("done", total, total)

            with psycopg.connect(db_url) as conn:
                rows = conn.execute(
                    "SELECT count(*), count(DISTINCT row), "
                    "count(*) FILTER (WHERE sentiment IN ('positive', 'negative')), "
                    "count(*) FILTER (WHERE sentiment = 'positive') "
                    "FROM batch_batchrow WHERE job_id = %s",
                    [job_id],
                ).fetchone()
                positive = conn.execute(
                    "SELECT positive_rows FROM batch_batchjob WHERE id = %s", [job_id]
                ).fetchone()[0]
                chunks_left = conn.execute(
                    "SELECT count(*) FROM batch_batchchunk WHERE job_id = %s AND NOT done",
                    [job_id],
                ).fetchone()[0]
            assert rows[:3] == (total, total, total)
            assert rows[3] == positive  # the counters agree with the rows
            assert chunks_left == 0

            # Both survivors took part.
            survivors = [
                worker.metric("sentiment_batch_rows_total", {"outcome": "classified"})
                for worker in workers[1:]
            ]
            assert all(count > 0 for count in survivors), survivors
            # The model service saw every review once; the only reviews sent twice are
            # those of the chunks the killed worker had in flight, never stored.
            sent = model_reviews_classified(modelsvc_server.url) - model_before
            assert total <= sent <= total + THREADS * CHUNK
        finally:
            for worker in workers:
                worker.stop()
            web.stop()
