"""Batch analysis end to end, and the web app's single review, on PostgreSQL.

- ``measure_batch``: a job of N reviews sampled from the a1 data (or the shipped corpus),
  from upload until its results CSV is downloaded, with one Celery worker and the model
  service on this machine; beside it the model service alone on the same reviews, 1,000 per
  request. Stages: parse (the upload's parser alone, in this process), store (the rest of
  the upload request), classify and write results (the job's running time: the model
  service's share of it is its own figure), download. Peak resident memory of the web
  app's gunicorn workers and of the Celery worker.
- ``measure_webapp_postgres``: ``POST /api/analyze`` with 2 gunicorn workers on the local
  PostgreSQL, at 1 and 8 connections, with persistent connections and without; beside it the
  model service's own single-review throughput; the CPU per request of the web app, the
  model service and PostgreSQL in each run.
"""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import psycopg
import requests

from bench import cpu, payloads
from devtools.celery import CeleryProcess, start_worker
from devtools.data import A1, CORPUS
from devtools.servers import REPO, Server, start_server

POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
MODEL_BATCH = 1000
# Past this many rows, the model service's rate is taken on this many of them.
MODEL_SAMPLE = 20_000
LARGE_JOB = 200_000


def sample_file(path: Path, rows: int, *, compress: bool = False) -> list[str]:
    """A TSV of ``rows`` reviews drawn (seeded) from the a1 data; the reviews, in order."""
    source = A1 if A1.exists() else CORPUS
    pool = payloads.read_reviews(source)
    reviews = random.Random(42).choices(pool, k=rows)
    text = "Review\n" + "\n".join(reviews) + "\n"
    data = text.encode()
    path.write_bytes(gzip.compress(data, compresslevel=1) if compress else data)
    return reviews


def peak_rss_mb(pids: list[int]) -> float:
    """The largest peak resident set (VmHWM) among ``pids``, in MiB."""
    peak = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return peak / 1024


@contextmanager
def postgres_database(name: str, work: Path):
    """A fresh, migrated database on the local PostgreSQL, dropped afterwards."""
    url = POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=REPO,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "webapp.settings",
                "DATABASE_URL": url,
                "VAR_DIR": str(work),
            },
            check=True,
        )
        yield url
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def model_alone(url: str, reviews: list[str], clients: int = 2) -> float:
    """Reviews/s of the model service's /analyze/batch, 1,000 per request, ``clients``
    requests in flight (one per gunicorn worker)."""
    batches = [reviews[i : i + MODEL_BATCH] for i in range(0, len(reviews), MODEL_BATCH)]

    def send(batch: list[str]) -> None:
        response = SESSION.post(f"{url}/analyze/batch", json={"reviews": batch}, timeout=60)
        response.raise_for_status()

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, batches))
    return len(reviews) / (time.perf_counter() - start)


SESSION = requests.Session()


# The upload's parser alone over the file, in a process of its own (bench drives the
# product from outside, it does not import it).
_PARSE = """
import sys, time
from webapp.batch.parsing import Skipped, read_reviews
start = time.perf_counter()
with open(sys.argv[1], "rb") as handle:
    for _ in read_reviews(handle, Skipped(), max_rows=10**7, max_chars=5000, max_bytes=1 << 40):
        pass
print(time.perf_counter() - start)
"""


def parse_seconds(path: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _PARSE, str(path)],
        cwd=REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _job(db_url: str, job_id: str) -> dict:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT status, processed_rows, total_rows, started_at, finished_at "
            "FROM batch_batchjob WHERE id = %s",
            [job_id],
        ).fetchone()
    if row is None:
        raise RuntimeError(f"job {job_id} is not in the database")
    status, processed, total, started, finished = row
    return {
        "status": status,
        "processed": processed,
        "total": total,
        "running_s": (finished - started).total_seconds() if finished and started else None,
    }


def run_job(web: Server, worker: CeleryProcess, db_url: str, path: Path) -> dict:
    """Upload, wait, download: the seconds of each, and the rows downloaded."""
    start = time.perf_counter()
    with path.open("rb") as handle:
        response = SESSION.post(
            f"{web.url}/api/batch", files={"file": (path.name, handle)}, timeout=1800
        )
    uploaded = time.perf_counter()
    response.raise_for_status()
    job_id = response.json()["id"]
    peak_worker = 0.0
    while (state := _job(db_url, job_id))["status"] in {"queued", "running"}:
        peak_worker = max(peak_worker, peak_rss_mb(cpu.tree_pids(worker.pid)))
        time.sleep(0.05)
    classified = time.perf_counter()
    if state["status"] != "done":
        raise RuntimeError(f"job ended {state}")
    lines = 0
    with SESSION.get(f"{web.url}/api/batch/{job_id}/results.csv", stream=True, timeout=600) as r:
        r.raise_for_status()
        for block in r.iter_content(chunk_size=1 << 16):
            lines += block.count(b"\n")
    downloaded = time.perf_counter()
    return {
        "rows": state["total"],
        "downloaded_rows": lines - 1,
        "upload_s": uploaded - start,
        "wait_s": classified - uploaded,
        "job_running_s": state["running_s"],
        "download_s": downloaded - classified,
        "total_s": downloaded - start,
        "peak_rss_worker_mb": max(peak_worker, peak_rss_mb(cpu.tree_pids(worker.pid))),
        "peak_rss_web_mb": peak_rss_mb(cpu.tree_pids(web.pid)),
    }


def measure_batch(model_url: str, work: Path, rows: int, *, compress: bool = False) -> dict:
    """One job of ``rows`` reviews end to end, and the model service alone on them."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / ("batch.tsv.gz" if compress else "batch.tsv")
    reviews = sample_file(path, rows, compress=compress)
    # The model service's rate on the same reviews (on the first 20,000 of a larger job:
    # the rate is the same, and the job itself is the long part), before and after the job:
    # the faster of the two is the figure the job is held to, so a machine that got busier
    # during the job cannot flatter the ratio.
    sample = reviews if rows <= LARGE_JOB else reviews[:MODEL_SAMPLE]
    alone_before = model_alone(model_url, sample)
    parse_s = parse_seconds(path)
    with postgres_database("bench_batch", work) as db_url:
        env = {
            "DATABASE_URL": db_url,
            "REDIS_URL": REDIS,
            "MODEL_SERVICE_URL": model_url,
            "LOG_LEVEL": "warning",
            "BATCH_MAX_ROWS": str(max(rows, 1_000_000)),
            "BATCH_MAX_ACTIVE_PER_CLIENT": "100",
            # The upload request stores every row before it answers: a million rows on a
            # busy machine take longer than gunicorn's default 60 s.
            "GUNICORN_TIMEOUT": "900",
        }
        _flush_redis()
        web = start_server("webapp", work / "web", env, workers=2, ready_path="/health/live")
        worker = start_worker(work / "worker", env)
        try:
            job = run_job(web, worker, db_url, path)
        finally:
            worker.stop()
            web.stop()
    alone_after = model_alone(model_url, sample)
    alone = max(alone_before, alone_after)
    end_to_end = rows / job["total_s"]
    # The model's share of the job's wait, at its own measured rate; what is left of the
    # wait is moving rows (claiming chunks, writing results).
    classify_s = min(rows / alone, job["wait_s"])
    stages = {
        "parse": parse_s,
        "store": job["upload_s"] - parse_s,
        "classify": classify_s,
        "write_results": job["wait_s"] - classify_s,
        "download": job["download_s"],
    }
    return {
        "rows": rows,
        "file_mb": path.stat().st_size / 1_048_576,
        "gzip": compress,
        "model_alone_reviews_per_s": alone,
        "model_alone_before_after": [alone_before, alone_after],
        "end_to_end_reviews_per_s": end_to_end,
        "ratio": end_to_end / alone,
        "stages_s": stages,
        "stage_share": {name: seconds / job["total_s"] for name, seconds in stages.items()},
        **job,
    }


def _flush_redis() -> None:
    import redis  # noqa: PLC0415

    client = redis.Redis.from_url(REDIS)
    client.flushdb()
    client.close()


def measure_webapp_postgres(model: Server, work: Path, wrk, files: dict, args) -> dict:
    """POST /api/analyze on PostgreSQL, 2 gunicorn workers, at 1 and 8 connections, with
    persistent database connections (DB_CONN_MAX_AGE=60) and with one per request (0); the
    CPU per request of the web app, the model service and PostgreSQL in every run."""
    model_url = model.url
    results: dict = {
        "model_alone_1": cpu.per_request(
            partial(wrk, f"{model_url}/analyze", files["analyze"], 8, 5),
            {"model_service": model.proc.pid},
        )
    }
    with postgres_database("bench_webapp", work) as db_url:
        for age in ("60", "0"):
            env = {
                "DATABASE_URL": db_url,
                "MODEL_SERVICE_URL": model_url,
                "LOG_LEVEL": "warning",
                "DB_CONN_MAX_AGE": age,
            }
            web = start_server("webapp", work / f"web-{age}", env, workers=2)
            roots = {
                "webapp": web.proc.pid,
                "model_service": model.proc.pid,
                "postgres": cpu.root_pid("postgres"),
            }
            try:
                url = web.url + "/api/analyze"
                wrk(url, files["analyze"], 2, args.warmup)
                results[f"conn_max_age_{age}"] = {
                    f"c{c}": cpu.per_request(
                        partial(wrk, url, files["analyze"], c, args.latency_seconds), roots
                    )
                    for c in (1, 8)
                }
            finally:
                web.stop()
    best = results["conn_max_age_60"]
    results["ratio_8_to_model"] = best["c8"]["rps"] / results["model_alone_1"]["rps"]
    return results
