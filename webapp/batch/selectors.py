"""Reads of batch analysis: a job, its progress, result summary, preview and rows, a
visitor's recent jobs, the jobs left stalled."""

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone

from webapp.batch.models import ACTIVE_STATUSES, BatchChunk, BatchJob, BatchRow, JobStatus

# A job whose message could not be sent is picked up by the sweeper after this long.
UNSENT_GRACE = timedelta(seconds=10)
RECENT_JOBS = 10  # listed on the page and by GET /api/batch
PREVIEW_SIZE = 3  # reviews shown each side in the results preview


@dataclass(frozen=True)
class Summary:
    positive: int
    negative: int

    @property
    def classified(self) -> int:
        return self.positive + self.negative

    @property
    def share_positive(self) -> float | None:
        return self.positive / self.classified if self.classified else None


def job_by_id(job_id: uuid.UUID) -> BatchJob | None:
    return BatchJob.objects.filter(pk=job_id).first()


def recent_jobs_of(owner: str, limit: int = RECENT_JOBS) -> list[BatchJob]:
    """The owner's latest jobs, newest first; none for a visitor who named no id."""
    if not owner:
        return []
    return list(BatchJob.objects.filter(owner=owner).order_by("-created_at")[:limit])


def progress_of(job_id: uuid.UUID) -> Mapping[str, Any] | None:
    """Status, counts and notice of a job: one row by its key, for the job page's polling."""
    return (
        BatchJob.objects.filter(pk=job_id)
        .values("status", "processed_rows", "total_rows", "notice")
        .first()
    )


@dataclass(frozen=True)
class Preview:
    """The reviews the model is surest about, each side: (row, review, confidence)."""

    negative: list[tuple[int, str, float | None]]
    positive: list[tuple[int, str, float | None]]


def preview_of(job: BatchJob, size: int = PREVIEW_SIZE) -> Preview | None:
    """The most negative and the most positive reviews of a finished job."""
    if job.status != JobStatus.DONE:
        return None
    rows = BatchRow.objects.filter(job=job)

    def surest(sentiment: str) -> list[tuple[int, str, float | None]]:
        ranked = rows.filter(sentiment=sentiment).order_by("-confidence", "row")[:size]
        return list(ranked.values_list("row", "review", "confidence"))

    return Preview(negative=surest("negative"), positive=surest("positive"))


def stalled_job_ids() -> list[uuid.UUID]:
    """The active jobs nobody is working on: those whose message could not be sent, and
    those untouched for BATCH_STALL_SECONDS (their message was lost, e.g. with a Redis that
    restarted empty)."""
    now = timezone.now()
    stalled = BatchJob.objects.filter(status__in=ACTIVE_STATUSES).filter(
        Q(enqueued_at__isnull=True, created_at__lt=now - UNSENT_GRACE)
        | Q(updated_at__lt=now - timedelta(seconds=settings.BATCH_STALL_SECONDS))
    )
    return list(stalled.values_list("pk", flat=True))


# Statuses whose results can be downloaded: all of them, or what was classified before a
# cancellation.
DOWNLOADABLE = (JobStatus.DONE, JobStatus.CANCELLED)


def summary_of(job: BatchJob) -> Summary | None:
    """Counts by sentiment once the job is done or cancelled (a running count would
    mislead), from the job's own counters: no count over its rows."""
    if job.status not in DOWNLOADABLE:
        return None
    return Summary(job.positive_rows, job.processed_rows - job.positive_rows)


def result_rows(job: BatchJob) -> Iterator[tuple[int, str, str, float | None]]:
    """(row, review, sentiment, confidence) of the classified rows in file order, streamed
    from the database (a server-side cursor on PostgreSQL), so memory stays flat."""
    rows = BatchRow.objects.filter(job=job).exclude(sentiment="").order_by("row")
    columns = rows.values_list("row", "review", "sentiment", "confidence")
    return columns.iterator(chunk_size=5000)


def chunk_count(job_id: uuid.UUID) -> int:
    return BatchChunk.objects.filter(job_id=job_id).count()


def pending_rows() -> int:
    """Rows of the active jobs still to classify, from the jobs' counters (no row count)."""
    active = BatchJob.objects.filter(status__in=ACTIVE_STATUSES)
    totals = active.aggregate(total=Sum("total_rows"), done=Sum("processed_rows"))
    return (totals["total"] or 0) - (totals["done"] or 0)
