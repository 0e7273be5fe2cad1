"""Writes of batch analysis: accept an upload, classify it chunk by chunk, finish it once,
cancel it, expire it.

Every step is safe to repeat, which is what lets the task be delivered again after a worker
dies: a chunk is claimed under a row lock (PostgreSQL, ``FOR UPDATE SKIP LOCKED``) held
until its results are committed with the job's counters, a result is only written to a row
that has none, and a job leaves queued/running exactly once (a conditional UPDATE), which
is also when it is counted.
"""

import io
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import IO

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from core import metrics
from core.model_variants import MODEL_VARIANTS, STABLE
from webapp import modelservice
from webapp.batch.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    BatchChunk,
    BatchJob,
    BatchRow,
    JobStatus,
)
from webapp.batch.parsing import Skipped, UploadError, read_reviews, too_large

logger = logging.getLogger(__name__)

CANCELLED = "Cancelled by an administrator."


def _update(job_id: uuid.UUID, *, only_active: bool = True, **fields) -> int:
    """UPDATE one job (``updated_at`` included: QuerySet.update skips auto_now)."""
    jobs = BatchJob.objects.filter(pk=job_id)
    if only_active:
        jobs = jobs.filter(status__in=ACTIVE_STATUSES)
    return jobs.update(updated_at=timezone.now(), **fields)


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def check_upload_size(size: int | None) -> None:
    if size is not None and size > settings.BATCH_MAX_BYTES:
        raise too_large(settings.BATCH_MAX_BYTES)


def check_active_limit(client: str) -> None:
    """UploadError (429) when ``client`` already has BATCH_MAX_ACTIVE_PER_CLIENT jobs
    queued or running, so that one client cannot fill the queue."""
    limit = settings.BATCH_MAX_ACTIVE_PER_CLIENT
    active = BatchJob.objects.filter(client=client, status__in=ACTIVE_STATUSES).count()
    if active >= limit:
        raise UploadError(
            "too_many_jobs",
            f"You have {active} batch jobs waiting or running (at most {limit:,} at a time); "
            "upload again when one has finished.",
            status=429,
        )


def _copy_rows(job_id: uuid.UUID, reviews: Iterable[tuple[int, str]]) -> None:
    """PostgreSQL: one COPY streams every row in."""
    table = BatchRow._meta.db_table
    sql = f'COPY "{table}" ("job_id", "row", "review", "sentiment") FROM STDIN'
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row, review in reviews:
            copy.write_row((job_id, row, review, ""))


def _insert_rows(job_id: uuid.UUID, reviews: Iterable[tuple[int, str]]) -> None:
    """Other databases: large multi-row INSERTs, all in the caller's transaction."""
    objects = (BatchRow(job_id=job_id, row=row, review=review) for row, review in reviews)
    while batch := list(islice(objects, 5000)):
        BatchRow.objects.bulk_create(batch)


@dataclass
class _Chunks:
    """Cuts the stored rows into chunks as they stream past."""

    bounds: list[tuple[int, int]]
    rows: int = 0

    def follow(self, reviews: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
        """The rows unchanged; (first, last) row of every BATCH_CHUNK_SIZE rows in bounds."""
        size = max(1, min(settings.BATCH_CHUNK_SIZE, settings.MAX_BATCH_REVIEWS))
        first = last = 0
        for row, review in reviews:
            if self.rows % size == 0:
                if self.rows:
                    self.bounds.append((first, last))
                first = row
            last = row
            self.rows += 1
            yield row, review
        if self.rows:
            self.bounds.append((first, last))


def create_job(
    *,
    filename: str,
    source: IO[bytes] | bytes,
    client: str = "",
    owner: str = "",
    model: str = STABLE,
) -> BatchJob:
    """Store an upload (a file, or bytes) as a queued job for ``model`` with one row per
    review, read and written as a stream; UploadError if unusable (nothing is stored then)."""
    if model not in MODEL_VARIANTS:
        raise UploadError(
            "unknown_model", f"There is no model {model[:20]!r}: choose v1 or v2.", 400
        )
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    if client:
        check_active_limit(client)
    skipped = Skipped()
    reviews = read_reviews(
        source,
        skipped,
        max_rows=settings.BATCH_MAX_ROWS,
        max_chars=settings.MAX_REVIEW_CHARS,
        max_bytes=settings.BATCH_MAX_BYTES,
    )
    chunks = _Chunks([])
    with transaction.atomic():
        job = BatchJob.objects.create(
            filename=filename[:255],
            total_rows=0,
            client=client[:64],
            owner=owner,
            model_variant=model,
        )
        (_copy_rows if _postgres() else _insert_rows)(job.id, chunks.follow(reviews))
        BatchChunk.objects.bulk_create(
            (BatchChunk(job=job, first_row=first, last_row=last) for first, last in chunks.bounds),
            batch_size=1000,
        )
        _update(
            job.id,
            total_rows=chunks.rows,
            skipped_empty=skipped.empty,
            skipped_too_long=skipped.too_long,
            too_long_rows=skipped.too_long_rows,
        )
    if skipped.empty:
        metrics.BATCH_ROWS.labels("skipped_empty").inc(skipped.empty)
    if skipped.too_long:
        metrics.BATCH_ROWS.labels("skipped_too_long").inc(skipped.too_long)
    job.refresh_from_db()
    return job


def mark_sent(job_id: uuid.UUID, sent: bool) -> None:
    """Record whether the job's message is with the broker; an unsent one is left for
    :func:`webapp.batch.tasks.requeue_stalled_jobs`."""
    _update(job_id, enqueued_at=timezone.now() if sent else None)


@dataclass(frozen=True)
class Claimed:
    chunk_id: int
    rows: list[tuple[int, str]]  # (pk, review) of the chunk's rows without a result


def claim_chunk(job_id: uuid.UUID, *, lock: bool) -> Claimed | None:
    """The first chunk of the job not done (and, with ``lock``, not claimed by another
    worker: the lock lasts until the caller's transaction ends)."""
    chunks = BatchChunk.objects.filter(job_id=job_id, done=False).order_by("first_row")
    if lock:
        chunks = chunks.select_for_update(skip_locked=True)
    chunk = chunks.first()
    if chunk is None:
        return None
    rows = BatchRow.objects.filter(
        job_id=job_id, row__gte=chunk.first_row, row__lte=chunk.last_row, sentiment=""
    ).order_by("row")
    return Claimed(chunk.pk, list(rows.values_list("pk", "review")))


def model_requests(rows: list[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    """The rows cut into model-service requests: at most MAX_BATCH_REVIEWS reviews and a
    body it accepts (half its MAX_BODY_BYTES, so JSON quoting cannot push it over)."""
    budget = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2
    batch: list[tuple[int, str]] = []
    used = 0
    for pk, review in rows:
        size = len(review.encode())
        if batch and (used + size > budget or len(batch) >= settings.MAX_BATCH_REVIEWS):
            yield batch
            batch, used = [], 0
        batch.append((pk, review))
        used += size
    if batch:
        yield batch


def _classify(
    job_id: uuid.UUID, rows: list[tuple[int, str]]
) -> tuple[list[modelservice.Classification], str]:
    """The chosen model's answers for ``rows``. No fallback to v1: a job asked for its model,
    so an unavailable one is waited for (retried) like v1 would be."""
    model = BatchJob.objects.values_list("model_variant", flat=True).get(pk=job_id)
    results: list[modelservice.Classification] = []
    model_version = ""
    for batch in model_requests(rows):
        answer = modelservice.analyze_batch(
            [review for _, review in batch], request_id=f"batch-{job_id}", model=model
        )
        results.extend(answer.results)
        model_version = answer.model_version
    return results, model_version


def _write_results(updates: list[tuple[int, str, float]]) -> None:
    table = BatchRow._meta.db_table
    with connection.cursor() as cursor:
        if _postgres():
            # One statement for the whole chunk.
            cursor.execute(
                f'UPDATE "{table}" AS r SET "sentiment" = v.s, "confidence" = v.c '  # noqa: S608
                "FROM unnest(%s::bigint[], %s::varchar[], %s::float8[]) AS v(id, s, c) "
                "WHERE r.id = v.id",
                [[u[0] for u in updates], [u[1] for u in updates], [u[2] for u in updates]],
            )
        else:
            cursor.executemany(
                f'UPDATE "{table}" SET "sentiment" = %s, "confidence" = %s WHERE "id" = %s',  # noqa: S608
                [(sentiment, confidence, pk) for pk, sentiment, confidence in updates],
            )


def store_results(
    job_id: uuid.UUID,
    claimed: Claimed,
    results: list[modelservice.Classification],
    model_version: str,
) -> int:
    """Write a chunk's results, mark it done and count them on the job, in the caller's
    transaction; a row that already has a result keeps it."""
    pending = set(
        BatchRow.objects.filter(pk__in=[pk for pk, _ in claimed.rows], sentiment="").values_list(
            "pk", flat=True
        )
    )
    updates = [
        (pk, result.sentiment, result.confidence)
        for (pk, _), result in zip(claimed.rows, results, strict=True)
        if pk in pending
    ]
    if updates:
        _write_results(updates)
    BatchChunk.objects.filter(pk=claimed.chunk_id).update(done=True)
    positive = sum(sentiment == "positive" for _, sentiment, _ in updates)
    # Last, so that the job's row is locked only for the moment before the commit.
    _update(
        job_id,
        only_active=False,  # a job cancelled meanwhile still counts what was classified
        processed_rows=F("processed_rows") + len(updates),
        positive_rows=F("positive_rows") + positive,
        model_version=model_version or F("model_version"),
        notice="",
    )
    return len(updates)


def _work_on_chunk(job_id: uuid.UUID) -> int | None:
    """Claim, classify and store one chunk; None when no chunk was free."""
    if connection.features.has_select_for_update_skip_locked:
        # The claim's lock lasts while the model service works: a worker that dies
        # releases it with its connection, and nothing it did is kept.
        with transaction.atomic():
            claimed = claim_chunk(job_id, lock=True)
            if claimed is None:
                return None
            results, model_version = _classify(job_id, claimed.rows)
            return store_results(job_id, claimed, results, model_version)
    # SQLite: one worker; no write lock is held while the model service works.
    claimed = claim_chunk(job_id, lock=False)
    if claimed is None:
        return None
    results, model_version = _classify(job_id, claimed.rows)
    with transaction.atomic():
        return store_results(job_id, claimed, results, model_version)


def process_next_chunk(job_id: uuid.UUID) -> bool:
    """Classify the next free chunk of a job; False once there is nothing left to do here
    (the job is final, or its remaining chunks are claimed by other workers).

    Raises :class:`modelservice.ModelServiceUnavailable` for the caller to retry later, and
    fails the job on a permanent model service error.
    """
    status = BatchJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
    if status is None or status in FINAL_STATUSES:
        return False
    if status == JobStatus.QUEUED:
        now = timezone.now()
        BatchJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, started_at=now, updated_at=now
        )
    try:
        written = _work_on_chunk(job_id)
    except modelservice.ModelServiceRejected as exc:
        finish_job(
            job_id, JobStatus.FAILED, error=f"The model service refused the reviews ({exc})."
        )
        return False
    if written is None:
        if not BatchChunk.objects.filter(job_id=job_id, done=False).exists():
            finish_job(job_id, JobStatus.DONE)
        return False
    if written:
        metrics.BATCH_ROWS.labels("classified").inc(written)
    return True


def finish_job(job_id: uuid.UUID, status: JobStatus, *, error: str = "") -> bool:
    """Move a job to its final status; only the first call does it (and counts it)."""
    finished = _update(job_id, status=status, error=error, notice="", finished_at=timezone.now())
    if finished:
        metrics.BATCH_JOBS.labels(status.value).inc()
        logger.info("batch job %s %s", job_id, status.value)
    return bool(finished)


def cancel_job(job_id: uuid.UUID) -> bool:
    """Stop a queued or running job: workers stop before their next chunk, and what was
    classified stays downloadable. False if the job had already ended."""
    return finish_job(job_id, JobStatus.CANCELLED, error=CANCELLED)


def note_waiting(job_id: uuid.UUID, notice: str) -> None:
    _update(job_id, notice=notice[:255])


def delete_rows(job_id: uuid.UUID) -> None:
    """The job's rows, BATCH_DELETE_BATCH_ROWS row numbers per statement and transaction,
    so that no delete holds locks for long whatever the job's size."""
    step = settings.BATCH_DELETE_BATCH_ROWS
    last = BatchRow.objects.filter(job_id=job_id).aggregate(last=Max("row"))["last"] or 0
    for start in range(0, last + 1, step):
        BatchRow.objects.filter(job_id=job_id, row__gte=start, row__lt=start + step).delete()
    BatchChunk.objects.filter(job_id=job_id).delete()


def delete_expired_jobs(now: datetime | None = None) -> int:
    """Delete the rows of the jobs finished BATCH_RETENTION_DAYS ago, and mark the jobs
    expired (they answer 410 from then on); such marks go after another retention period.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.BATCH_RETENTION_DAYS)
    finished = BatchJob.objects.filter(finished_at__lt=cutoff, status__in=FINAL_STATUSES)
    expired = 0
    for job_id in finished.exclude(status=JobStatus.EXPIRED).values_list("pk", flat=True):
        delete_rows(job_id)
        expired += BatchJob.objects.filter(pk=job_id).update(
            status=JobStatus.EXPIRED, updated_at=now
        )
    tombstones = BatchJob.objects.filter(
        status=JobStatus.EXPIRED,
        finished_at__lt=cutoff - timedelta(days=settings.BATCH_RETENTION_DAYS),
    )
    tombstones.delete()
    return expired
