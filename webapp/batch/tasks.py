"""Celery tasks of batch analysis, and sending a job to them: thin wrappers around
:mod:`webapp.batch.services`, which knows nothing of messages."""

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections
from kombu.exceptions import OperationalError as BrokerUnreachable

from core import metrics
from webapp import modelservice
from webapp.batch import selectors, services
from webapp.batch.models import JobStatus
from webapp.celery import app

logger = logging.getLogger(__name__)

WAITING = "Waiting for the sentiment model service; the job resumes when it is back."
GAVE_UP = "A service the job needs stayed unavailable; the job was stopped."
INTERNAL = "The job stopped on an internal error."
# Faults that go away by themselves: the model service restarting, the database failing over.
TRANSIENT = (modelservice.ModelServiceUnavailable, OperationalError, InterfaceError)


def enqueue_job(job_id: uuid.UUID, copies: int = 1) -> bool:
    """Send the job to the workers (or run it here, without a broker): ``copies`` messages,
    so that as many workers can share it (each claims chunks until none is left).

    When the broker cannot be reached the job stays queued in the database and
    :func:`requeue_stalled_jobs` sends it later; the upload is never lost.
    """
    services.mark_sent(job_id, True)
    try:
        for _ in range(max(1, copies)):
            process_job.delay(str(job_id))
    except BrokerUnreachable:
        logger.warning("batch job %s: broker unreachable, left for the sweeper", job_id)
        services.mark_sent(job_id, False)
        return False
    return True


def send_new_job(job_id: uuid.UUID) -> bool:
    """Send a new job as one message per chunk, up to BATCH_FANOUT: that many workers can
    share it (a worker that finds no free chunk returns at once)."""
    chunks = selectors.chunk_count(job_id)
    return enqueue_job(job_id, max(1, min(chunks, settings.BATCH_FANOUT)))


def _threads(eager: bool) -> int:
    # SQLite has one writer at a time: a second thread would only wait for the lock. In
    # process (no broker), the request's own connection and transaction do the work.
    if eager or not connection.features.has_select_for_update_skip_locked:
        return 1
    return max(1, settings.BATCH_WORKER_THREADS)


def _work(pk: uuid.UUID, deadline: float, stop: threading.Event) -> bool:
    """Chunks of the job until none is free; True if it stopped at the deadline instead."""
    try:
        while not stop.is_set() and services.process_next_chunk(pk):
            metrics.BATCH_PENDING_ROWS.set(selectors.pending_rows())
            if time.monotonic() > deadline:
                return True
        metrics.BATCH_PENDING_ROWS.set(selectors.pending_rows())
        return False
    except BaseException:
        stop.set()  # the other threads stop after their chunk; the error goes to the task
        raise


def _work_in_thread(pk: uuid.UUID, deadline: float, stop: threading.Event) -> bool:
    try:
        return _work(pk, deadline, stop)
    finally:
        connections.close_all()  # the connections this pool thread opened


def work_on_job(pk: uuid.UUID, threads: int) -> bool:
    """Work on a job with ``threads`` model-service requests in flight, for up to
    BATCH_TASK_BUDGET_SECONDS; True if work is left (hand it on). Re-raises the first
    error of any thread."""
    deadline = time.monotonic() + settings.BATCH_TASK_BUDGET_SECONDS
    stop = threading.Event()
    if threads == 1:
        return _work(pk, deadline, stop)
    with ThreadPoolExecutor(threads, thread_name_prefix="batch") as pool:
        futures = [pool.submit(_work_in_thread, pk, deadline, stop) for _ in range(threads)]
        try:
            return any([future.result() for future in futures])
        except BaseException:
            stop.set()
            raise


@app.task(
    bind=True,
    name="batch.process_job",
    max_retries=None,  # counted against BATCH_MAX_RETRIES below, to fail the job cleanly
)
def process_job(self, job_id: str) -> None:
    """Work on a job for up to BATCH_TASK_BUDGET_SECONDS, then hand it on to a new message,
    so no single delivery runs long (time limits, fairness between jobs, and little lost
    work when a worker dies)."""
    pk = uuid.UUID(job_id)
    try:
        if work_on_job(pk, _threads(self.request.is_eager)):
            enqueue_job(pk)
    except TRANSIENT as exc:
        retries = self.request.retries
        model_down = isinstance(exc, modelservice.ModelServiceUnavailable)
        # Without a broker the task runs inside a web request: fail now, never sleep there.
        if self.request.is_eager or retries >= settings.BATCH_MAX_RETRIES:
            reason = exc.reason if isinstance(exc, modelservice.ModelServiceError) else "database"
            services.finish_job(pk, JobStatus.FAILED, error=f"{GAVE_UP} ({reason})")
            return
        if model_down:
            services.note_waiting(pk, WAITING)
        countdown = get_exponential_backoff_interval(
            factor=1, retries=retries, maximum=settings.BATCH_RETRY_BACKOFF_MAX, full_jitter=True
        )
        logger.info("batch job %s: %s; retry %d in %ss", job_id, exc, retries + 1, countdown)
        raise self.retry(exc=exc, countdown=max(countdown, 1)) from None
    except SoftTimeLimitExceeded:
        # Finished chunks are stored; a fresh message carries on with the rest.
        enqueue_job(pk)
    except Exception:  # a job must never stay "running" after a bug
        logger.exception("batch job %s failed", job_id)
        services.finish_job(pk, JobStatus.FAILED, error=INTERNAL)


@app.task(name="batch.requeue_stalled_jobs")
def requeue_stalled_jobs() -> int:
    """Send the stalled jobs again; a duplicate message is harmless (see the services)."""
    count = 0
    for job_id in selectors.stalled_job_ids():
        logger.warning("batch job %s: stalled, sending it again", job_id)
        count += enqueue_job(job_id)
    return count


@app.task(name="batch.delete_expired_jobs")
def delete_expired_jobs() -> int:
    return services.delete_expired_jobs()
