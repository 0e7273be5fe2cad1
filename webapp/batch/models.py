"""Batch analysis jobs, their rows and the chunks the workers claim.

The rows of an upload are stored when it arrives, so a worker can pick a job up again
after a crash: a row without a sentiment still has to be classified, one with a sentiment
is finished and never sent again. The rows are cut into chunks (consecutive row numbers,
about one model-service batch each) when they are stored; a worker claims a chunk by
locking its row (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL), so any number of
workers share a job without overlap, and a worker that dies releases its chunk with its
connection.
"""

import uuid

from django.db import models

from core.model_variants import MODEL_VARIANTS, STABLE


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    # Its rows were deleted after BATCH_RETENTION_DAYS; the job itself is kept to say so.
    EXPIRED = "expired", "Expired"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
FINAL_STATUSES = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED)


class BatchJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    filename = models.CharField(max_length=255, blank=True)
    # The visitor who uploaded it (the sentiment_visitor cookie or x-user-id); blank when the
    # client named none. Only lists are scoped by it: a job's own id is unguessable.
    owner = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    # Who uploaded it (the client address), for the limit on concurrent jobs per client.
    client = models.CharField(max_length=64, blank=True, db_index=True)
    total_rows = models.PositiveIntegerField(help_text="Reviews to classify.")
    # Kept in step with the rows in the same transaction that classifies them.
    processed_rows = models.PositiveIntegerField(default=0)
    positive_rows = models.PositiveIntegerField(default=0)
    skipped_empty = models.PositiveIntegerField(default=0)
    skipped_too_long = models.PositiveIntegerField(default=0)
    too_long_rows = models.JSONField(
        default=list, blank=True, help_text="Row numbers of the first skipped long reviews."
    )
    model_version = models.CharField(max_length=64, blank=True)
    # The model chosen at upload (stable by default); model_version is what it answered.
    model_variant = models.CharField(
        max_length=2,
        choices=[(variant, variant) for variant in MODEL_VARIANTS],
        default=STABLE,
        db_default=STABLE,
    )
    # Why the job failed (final) or what it is waiting for (cleared when work resumes).
    error = models.TextField(blank=True)
    notice = models.CharField(max_length=255, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="batch_job_owner_recent")]

    def __str__(self) -> str:
        return (
            f"{self.filename or self.id} ({self.status}, {self.processed_rows}/{self.total_rows})"
        )

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class BatchRow(models.Model):
    job = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="rows")
    row = models.PositiveIntegerField(help_text="Row number in the uploaded file (1 = first).")
    review = models.TextField()
    # Blank until classified; a row is written once (see services.classify_chunk).
    sentiment = models.CharField(max_length=8, blank=True)
    confidence = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["job", "row"]
        # Chunks read rows by (job, row) range; no index on sentiment, so that writing a
        # result updates no index (PostgreSQL can then update the row in place).
        constraints = [models.UniqueConstraint(fields=["job", "row"], name="batch_row_once")]

    def __str__(self) -> str:
        return f"{self.job_id}#{self.row}: {self.sentiment or 'pending'}"


class BatchChunk(models.Model):
    """Rows ``first_row``..``last_row`` of a job: the unit a worker claims and classifies."""

    job = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="chunks")
    first_row = models.PositiveIntegerField()
    last_row = models.PositiveIntegerField()
    done = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "first_row"], name="batch_chunk_once")
        ]
        indexes = [models.Index(fields=["job", "done", "first_row"], name="batch_chunk_todo")]

    def __str__(self) -> str:
        return f"{self.job_id} rows {self.first_row}-{self.last_row}"
