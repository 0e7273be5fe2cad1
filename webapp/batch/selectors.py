"""Reads of batch analysis: a job, its result summary and rows, the jobs left stalled."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from webapp.batch.models import ACTIVE_STATUSES, BatchJob, BatchRow, JobStatus

# A job whose message could not be sent is picked up by the sweeper after this long.
UNSENT_GRACE = timedelta(seconds=10)


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


def jobs_by_ids(job_ids: list[str]) -> list[BatchJob]:
    valid = []
    for value in job_ids:
        try:
            valid.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return list(BatchJob.objects.filter(pk__in=valid).order_by("-created_at"))


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


def summary_of(job: BatchJob) -> Summary | None:
    """Counts by sentiment, once the job is done (a partial count would mislead)."""
    if job.status != JobStatus.DONE:
        return None
    counts = BatchRow.objects.filter(job=job).aggregate(
        positive=Count("pk", filter=Q(sentiment="positive")),
        negative=Count("pk", filter=Q(sentiment="negative")),
    )
    return Summary(counts["positive"], counts["negative"])


def result_rows(job: BatchJob) -> Iterator[tuple[int, str, str, float | None]]:
    """(row, review, sentiment, confidence) in file order, streamed from the database."""
    rows = BatchRow.objects.filter(job=job).order_by("row")
    return rows.values_list("row", "review", "sentiment", "confidence").iterator(chunk_size=1000)
