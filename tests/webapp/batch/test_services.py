"""The properties that make a job resumable: idempotent chunks, one finish, one count."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from tests.support.servers import free_port
from webapp import modelservice
from webapp.batch import services, tasks
from webapp.batch.models import BatchJob, BatchRow, JobStatus

pytestmark = pytest.mark.django_db

REVIEWS = b"Review\nLoved the food\nAwful service\nGreat staff\nCold soup\nNice view\n"


def jobs_counted(status: str) -> float:
    return REGISTRY.get_sample_value("sentiment_batch_jobs_total", {"status": status}) or 0.0


def test_chunks_only_hold_rows_without_a_result(model_service, settings):
    settings.BATCH_CHUNK_SIZE = 2
    job = services.create_job(filename="r.tsv", data=REVIEWS)
    assert services.process_next_chunk(job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert job.started_at is not None
    assert job.processed_rows == 2
    done = set(BatchRow.objects.exclude(sentiment="").values_list("row", flat=True))
    assert done == {1, 2}

    while services.process_next_chunk(job.id):
        pass
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert job.processed_rows == job.total_rows == 5
    assert not BatchRow.objects.filter(job=job, sentiment="").exists()
    assert job.model_version


def test_writing_a_result_twice_keeps_the_first(model_service):
    job = services.create_job(filename="r.tsv", data=REVIEWS)
    chunk = services._next_chunk(job.id)
    first = modelservice.BatchAnswer(
        [modelservice.Classification("positive", 0.9)] * len(chunk), "m1"
    )
    second = modelservice.BatchAnswer(
        [modelservice.Classification("negative", 0.6)] * len(chunk), "m2"
    )
    assert services._store(job.id, chunk, first) == 5
    # A redelivered task that had already sent the same chunk writes nothing.
    assert services._store(job.id, chunk, second) == 0
    job.refresh_from_db()
    assert job.processed_rows == 5
    assert set(BatchRow.objects.values_list("sentiment", "confidence")) == {("positive", 0.9)}


def test_a_job_finishes_and_is_counted_once():
    job = services.create_job(filename="r.tsv", data=REVIEWS)
    before = jobs_counted("done")
    assert services.finish_job(job.id, JobStatus.DONE) is True
    assert services.finish_job(job.id, JobStatus.DONE) is False
    assert services.finish_job(job.id, JobStatus.FAILED, error="late") is False
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert job.error == ""
    assert jobs_counted("done") == before + 1


def test_a_finished_job_is_never_worked_on_again(model_service):
    job = services.create_job(filename="r.tsv", data=REVIEWS)
    services.finish_job(job.id, JobStatus.FAILED, error="stopped")
    assert services.process_next_chunk(job.id) is False
    assert not BatchRow.objects.exclude(sentiment="").exists()


def test_model_service_down_without_a_broker_fails_the_job_at_once(eager, settings):
    settings.MODEL_SERVICE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens
    failed_before = jobs_counted("failed")
    job = services.create_job(filename="r.tsv", data=REVIEWS)
    tasks.enqueue_job(job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "unavailable" in job.error
    assert jobs_counted("failed") == failed_before + 1


def test_a_review_the_model_service_refuses_fails_the_job(eager, model_service, settings):
    # This process accepts longer reviews than the model service does: a permanent refusal.
    settings.MAX_REVIEW_CHARS = 20_000
    data = b"Review\nfine\n" + b"long " * 2000 + b"\n"
    job = services.create_job(filename="r.tsv", data=data)
    tasks.enqueue_job(job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "refused" in job.error
    assert job.processed_rows == 0


def test_stalled_jobs_are_sent_again(eager, model_service, settings):
    unsent = services.create_job(filename="unsent.tsv", data=REVIEWS)
    forgotten = services.create_job(filename="lost.tsv", data=REVIEWS)
    fresh = services.create_job(filename="fresh.tsv", data=REVIEWS)
    long_ago = timezone.now() - timedelta(seconds=settings.BATCH_STALL_SECONDS + 60)
    BatchJob.objects.filter(pk=unsent.pk).update(created_at=long_ago, updated_at=long_ago)
    BatchJob.objects.filter(pk=forgotten.pk).update(
        created_at=long_ago, updated_at=long_ago, enqueued_at=long_ago
    )
    BatchJob.objects.filter(pk=fresh.pk).update(enqueued_at=timezone.now())

    assert tasks.requeue_stalled_jobs() == 2

    statuses = dict(BatchJob.objects.values_list("filename", "status"))
    assert statuses == {"unsent.tsv": "done", "lost.tsv": "done", "fresh.tsv": "queued"}


def test_chunks_stay_within_the_model_service_body_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4000  # the model service's MAX_BODY_BYTES
    review = "x" * 900
    data = ("Review\n" + f"{review}\n" * 10).encode()
    job = services.create_job(filename="r.tsv", data=data)
    chunk = services._next_chunk(job.id)
    assert len(chunk) == 2  # 1800 bytes fit in half the limit, 2700 would not


def test_finished_jobs_are_deleted_after_the_retention_period(settings):
    settings.BATCH_RETENTION_DAYS = 30
    old = services.create_job(filename="old.tsv", data=REVIEWS)
    recent = services.create_job(filename="recent.tsv", data=REVIEWS)
    running = services.create_job(filename="running.tsv", data=REVIEWS)
    for job in (old, recent):
        services.finish_job(job.id, JobStatus.DONE)
    BatchJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=31))
    BatchJob.objects.filter(pk=running.pk).update(created_at=timezone.now() - timedelta(days=90))

    assert services.delete_expired_jobs() == 1

    assert set(BatchJob.objects.values_list("filename", flat=True)) == {
        "recent.tsv",
        "running.tsv",
    }
    assert not BatchRow.objects.filter(job_id=old.pk).exists()


def test_a_job_handed_on_while_redis_is_down_waits_for_the_sweeper(
    unreachable_broker, model_service, settings
):
    from webapp.batch.tasks import process_job

    settings.BATCH_CHUNK_SIZE = 2
    settings.BATCH_TASK_BUDGET_SECONDS = 0  # hand the job on after its first chunk
    job = services.create_job(filename="r.tsv", data=REVIEWS)
    BatchJob.objects.filter(pk=job.pk).update(enqueued_at=timezone.now())

    process_job.apply(args=[str(job.id)])

    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING  # not failed: the upload survives the outage
    assert job.processed_rows == 2
    assert job.enqueued_at is None  # which is what the sweeper looks for
