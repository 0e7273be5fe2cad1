"""Batch analysis jobs and their rows.

The rows of an upload are stored when it arrives, so a worker can pick a job up again
after a crash: a row without a sentiment still has to be classified, one with a sentiment
is finished and never sent again.
"""

import uuid

from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
FINAL_STATUSES = (JobStatus.DONE, JobStatus.FAILED)


class BatchJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    filename = models.CharField(max_length=255, blank=True)
    # The visitor who uploaded it (the sentiment_visitor cookie or x-user-id); blank when the
    # client named none. Only lists are scoped by it: a job's own id is unguessable.
    owner = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    total_rows = models.PositiveIntegerField(help_text="Reviews to classify.")
    # Kept in step with the rows in the same transaction that classifies them.
    processed_rows = models.PositiveIntegerField(default=0)
    skipped_empty = models.PositiveIntegerField(default=0)
    skipped_too_long = models.PositiveIntegerField(default=0)
    too_long_rows = models.JSONField(
        default=list, blank=True, help_text="Row numbers of the first skipped long reviews."
    )
    model_version = models.CharField(max_length=64, blank=True)
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
        constraints = [models.UniqueConstraint(fields=["job", "row"], name="batch_row_once")]
        indexes = [models.Index(fields=["job", "sentiment", "row"], name="batch_row_todo")]

    def __str__(self) -> str:
        return f"{self.job_id}#{self.row}: {self.sentiment or 'pending'}"
