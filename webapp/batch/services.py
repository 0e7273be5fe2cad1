"""Writes of batch analysis: accept an upload, classify it chunk by chunk, finish it once.

Every step is safe to repeat, which is what lets the task be delivered again after a worker
dies: a chunk only holds rows that have no result yet, a result is only written to a row
that has none, and a job leaves queued/running exactly once (a conditional UPDATE), which
is also when it is counted.
"""

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import metrics
from webapp import modelservice
from webapp.batch.models import ACTIVE_STATUSES, BatchJob, BatchRow, JobStatus
from webapp.batch.parsing import UploadError, parse_reviews

logger = logging.getLogger(__name__)


def _update(job_id: uuid.UUID, *, only_active: bool = True, **fields) -> int:
    """UPDATE one job (``updated_at`` included: QuerySet.update skips auto_now)."""
    jobs = BatchJob.objects.filter(pk=job_id)
    if only_active:
        jobs = jobs.filter(status__in=ACTIVE_STATUSES)
    return jobs.update(updated_at=timezone.now(), **fields)


_MB = 1_048_576
_KB = 1024


def readable_size(size: int) -> str:
    if size >= _MB:
        return f"{size / _MB:.3g} MB"
    if size >= _KB:
        return f"{size / 1024:.3g} KB"
    return f"{size} bytes"


def check_upload_size(size: int | None) -> None:
    if size is not None and size > settings.BATCH_MAX_BYTES:
        limit = readable_size(settings.BATCH_MAX_BYTES)
        raise UploadError("file_too_large", f"The file is larger than {limit}.", status=413)


def create_job(*, filename: str, data: bytes, owner: str = "") -> BatchJob:
    """Store an upload as a queued job with one row per review; UploadError if unusable."""
    check_upload_size(len(data))
    parsed = parse_reviews(
        data, max_rows=settings.BATCH_MAX_ROWS, max_chars=settings.MAX_REVIEW_CHARS
    )
    with transaction.atomic():
        job = BatchJob.objects.create(
            filename=filename[:255],
            owner=owner,
            total_rows=len(parsed.reviews),
            skipped_empty=parsed.skipped_empty,
            skipped_too_long=parsed.skipped_too_long,
            too_long_rows=parsed.too_long_rows,
        )
        BatchRow.objects.bulk_create(
            (BatchRow(job=job, row=row, review=review) for row, review in parsed.reviews),
            batch_size=1000,
        )
    if parsed.skipped_empty:
        metrics.BATCH_ROWS.labels("skipped_empty").inc(parsed.skipped_empty)
    if parsed.skipped_too_long:
        metrics.BATCH_ROWS.labels("skipped_too_long").inc(parsed.skipped_too_long)
    return job


def mark_sent(job_id: uuid.UUID, sent: bool) -> None:
    """Record whether the job's message is with the broker; an unsent one is left for
    :func:`webapp.batch.tasks.requeue_stalled_jobs`."""
    _update(job_id, enqueued_at=timezone.now() if sent else None)


def _next_chunk(job_id: uuid.UUID) -> list[tuple[int, str]]:
    """The next rows without a result: at most BATCH_CHUNK_SIZE rows and a body the model
    service accepts (half its MAX_BODY_BYTES, so JSON quoting cannot push it over)."""
    size = min(settings.BATCH_CHUNK_SIZE, settings.MAX_BATCH_REVIEWS)
    budget = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2
    rows = BatchRow.objects.filter(job_id=job_id, sentiment="").order_by("row")
    chunk: list[tuple[int, str]] = []
    for pk, review in rows.values_list("pk", "review")[:size]:
        budget -= len(review.encode())
        if chunk and budget < 0:
            break
        chunk.append((pk, review))
    return chunk


def _store(job_id: uuid.UUID, chunk: list[tuple[int, str]], answer) -> int:
    """Write a chunk's results in one transaction; a row that already has one keeps it."""
    with transaction.atomic():
        written = 0
        for (pk, _), result in zip(chunk, answer.results, strict=True):
            written += BatchRow.objects.filter(pk=pk, sentiment="").update(
                sentiment=result.sentiment, confidence=result.confidence
            )
        _update(
            job_id,
            processed_rows=F("processed_rows") + written,
            model_version=answer.model_version,
            notice="",
        )
    if written:
        metrics.BATCH_ROWS.labels("classified").inc(written)
    return written


def process_next_chunk(job_id: uuid.UUID) -> bool:
    """Classify the next chunk of a job; False once there is nothing left to do.

    Raises :class:`modelservice.ModelServiceUnavailable` for the caller to retry later, and
    fails the job on a permanent model service error.
    """
    job = BatchJob.objects.filter(pk=job_id).only("status").first()
    if job is None or job.is_final:
        return False
    if job.status == JobStatus.QUEUED:
        now = timezone.now()
        BatchJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, started_at=now, updated_at=now
        )
    chunk = _next_chunk(job_id)
    if not chunk:
        finish_job(job_id, JobStatus.DONE)
        return False
    try:
        answer = modelservice.analyze_batch(
            [review for _, review in chunk], request_id=f"batch-{job_id}"
        )
    except modelservice.ModelServiceRejected as exc:
        finish_job(
            job_id, JobStatus.FAILED, error=f"The model service refused the reviews ({exc})."
        )
        return False
    _store(job_id, chunk, answer)
    return True


def finish_job(job_id: uuid.UUID, status: JobStatus, *, error: str = "") -> bool:
    """Move a job to its final status; only the first call does it (and counts it)."""
    finished = _update(job_id, status=status, error=error, notice="", finished_at=timezone.now())
    if finished:
        metrics.BATCH_JOBS.labels(status.value).inc()
        logger.info("batch job %s %s", job_id, status.value)
    return bool(finished)


def note_waiting(job_id: uuid.UUID, notice: str) -> None:
    _update(job_id, notice=notice[:255])


def delete_expired_jobs(now: datetime | None = None) -> int:
    """Delete the jobs (uploaded reviews and results) finished BATCH_RETENTION_DAYS ago."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.BATCH_RETENTION_DAYS)
    _, deleted = BatchJob.objects.filter(finished_at__lt=cutoff).delete()
    return deleted.get(BatchJob._meta.label, 0)
