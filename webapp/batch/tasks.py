"""Celery tasks of batch analysis, and sending a job to them: thin wrappers around
:mod:`webapp.batch.services`, which knows nothing of messages."""

import logging
import time
import uuid

from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerUnreachable

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


def enqueue_job(job_id: uuid.UUID) -> bool:
    """Send the job to the workers (or run it here, without a broker).

    When the broker cannot be reached the job stays queued in the database and
    :func:`requeue_stalled_jobs` sends it later; the upload is never lost.
    """
    services.mark_sent(job_id, True)
    try:
        process_job.delay(str(job_id))
    except BrokerUnreachable:
        logger.warning("batch job %s: broker unreachable, left for the sweeper", job_id)
        services.mark_sent(job_id, False)
        return False
    return True


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
    deadline = time.monotonic() + settings.BATCH_TASK_BUDGET_SECONDS
    try:
        while services.process_next_chunk(pk):
            if time.monotonic() > deadline:
                enqueue_job(pk)
                return
    except TRANSIENT as exc:
        retries = self.request.retries
        model_down = isinstance(exc, modelservice.ModelServiceUnavailable)
        # Without a broker the task runs inside a web request: fail now, never sleep there.
        if self.request.is_eager or retries >= settings.BATCH_MAX_RETRIES:
            reason = (
                exc.reason if isinstance(exc, modelservice.ModelServiceUnavailable) else "database"
            )
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
