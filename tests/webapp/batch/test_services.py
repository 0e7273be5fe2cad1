"""The properties that make a job resumable: idempotent chunks, one finish, one count."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from tests.support.servers import free_port
from webapp import modelservice
from webapp.batch import selectors, services, tasks
from webapp.batch.models import BatchChunk, BatchJob, BatchRow, JobStatus
from webapp.batch.parsing import UploadError

pytestmark = pytest.mark.django_db

REVIEWS = b"Review\nLoved the food\nAwful service\nGreat staff\nCold soup\nNice view\n"


def jobs_counted(status: str) -> float:
    return REGISTRY.get_sample_value("sentiment_batch_jobs_total", {"status": status}) or 0.0


def test_chunks_only_hold_rows_without_a_result(model_service, settings):
    settings.BATCH_CHUNK_SIZE = 2
    job = services.create_job(filename="r.tsv", source=REVIEWS)
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


def test_rows_are_cut_into_chunks_of_the_chunk_size_as_they_are_stored(settings):
    settings.BATCH_CHUNK_SIZE = 2
    data = b"Review\nLoved the food\n\nAwful service\nGreat staff\n\nCold soup\nNice view\n"
    job = services.create_job(filename="r.tsv", source=data)
    assert job.total_rows == 5
    assert job.skipped_empty == 2
    chunks = BatchChunk.objects.filter(job=job).order_by("first_row")
    # File rows 1, 3 | 4, 6 | 7: skipped rows leave gaps in the numbers, not in the chunks.
    assert list(chunks.values_list("first_row", "last_row")) == [(1, 3), (4, 6), (7, 7)]


def test_writing_a_result_twice_keeps_the_first(model_service):
    job = services.create_job(filename="r.tsv", source=REVIEWS)
    claimed = services.claim_chunk(job.id, lock=False)
    first = [modelservice.Classification("positive", 0.9)] * len(claimed.rows)
    second = [modelservice.Classification("negative", 0.6)] * len(claimed.rows)
    assert services.store_results(job.id, claimed, first, "m1") == 5
    # A redelivered task that had already sent the same chunk writes nothing.
    assert services.store_results(job.id, claimed, second, "m2") == 0
    job.refresh_from_db()
    assert job.processed_rows == job.positive_rows == 5
    assert job.model_version == "m2"
    assert set(BatchRow.objects.values_list("sentiment", "confidence")) == {("positive", 0.9)}
    assert services.claim_chunk(job.id, lock=False) is None  # the chunk is done


def test_a_job_finishes_and_is_counted_once():
    job = services.create_job(filename="r.tsv", source=REVIEWS)
    before = jobs_counted("done")
    assert services.finish_job(job.id, JobStatus.DONE) is True
    assert services.finish_job(job.id, JobStatus.DONE) is False
    assert services.finish_job(job.id, JobStatus.FAILED, error="late") is False
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert job.error == ""
    assert jobs_counted("done") == before + 1


def test_a_finished_job_is_never_worked_on_again(model_service):
    job = services.create_job(filename="r.tsv", source=REVIEWS)
    services.finish_job(job.id, JobStatus.FAILED, error="stopped")
    assert services.process_next_chunk(job.id) is False
    assert not BatchRow.objects.exclude(sentiment="").exists()


def test_model_service_down_without_a_broker_fails_the_job_at_once(eager, settings):
    settings.MODEL_SERVICE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens
    failed_before = jobs_counted("failed")
    job = services.create_job(filename="r.tsv", source=REVIEWS)
    tasks.enqueue_job(job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "unavailable" in job.error
    assert jobs_counted("failed") == failed_before + 1


def test_a_review_the_model_service_refuses_fails_the_job(eager, model_service, settings):
    # This process accepts longer reviews than the model service does: a permanent refusal.
    settings.MAX_REVIEW_CHARS = 20_000
    data = b"Review\nfine\n" + b"long " * 2000 + b"\n"
    job = services.create_job(filename="r.tsv", source=data)
    tasks.enqueue_job(job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "refused" in job.error
    assert job.processed_rows == 0


def test_stalled_jobs_are_sent_again(eager, model_service, settings):
    unsent = services.create_job(filename="unsent.tsv", source=REVIEWS)
    forgotten = services.create_job(filename="lost.tsv", source=REVIEWS)
    fresh = services.create_job(filename="fresh.tsv", source=REVIEWS)
    long_ago = timezone.now() - timedelta(seconds=settings.BATCH_STALL_SECONDS + 60)
    BatchJob.objects.filter(pk=unsent.pk).update(created_at=long_ago, updated_at=long_ago)
    BatchJob.objects.filter(pk=forgotten.pk).update(
        created_at=long_ago, updated_at=long_ago, enqueued_at=long_ago
    )
    BatchJob.objects.filter(pk=fresh.pk).update(enqueued_at=timezone.now())

    assert tasks.requeue_stalled_jobs() == 2

    statuses = dict(BatchJob.objects.values_list("filename", "status"))
    assert statuses == {"unsent.tsv": "done", "lost.tsv": "done", "fresh.tsv": "queued"}


def test_requests_stay_within_the_model_service_limits(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4000  # the model service's MAX_BODY_BYTES
    settings.MAX_BATCH_REVIEWS = 3
    rows = [(pk, "x" * 900) for pk in range(5)] + [(pk, "y") for pk in range(5, 12)]
    sizes = [len(batch) for batch in services.model_requests(rows)]
    # 1800 bytes fit in half the limit, 2700 would not; then 3 reviews per request.
    assert sizes == [2, 2, 3, 3, 2]
    assert [pk for batch in services.model_requests(rows) for pk, _ in batch] == list(range(12))


def test_the_summary_comes_from_the_counters(model_service, eager):
    job = services.create_job(filename="r.tsv", source=REVIEWS)
    tasks.send_new_job(job.id)
    job.refresh_from_db()
    stored = BatchRow.objects.filter(job=job)
    summary = selectors.summary_of(job)
    assert summary.positive == stored.filter(sentiment="positive").count()
    assert summary.negative == stored.filter(sentiment="negative").count()
    assert summary.classified == 5


def test_a_cancelled_job_stops_before_its_next_chunk_and_keeps_its_results(model_service, settings):
    settings.BATCH_CHUNK_SIZE = 2
    job = services.create_job(filename="r.tsv", source=REVIEWS)
    assert services.process_next_chunk(job.id)
    cancelled_before = jobs_counted("cancelled")

    assert services.cancel_job(job.id) is True
    assert services.cancel_job(job.id) is False  # once

    assert services.process_next_chunk(job.id) is False
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.processed_rows == 2
    assert [row for row, *_ in selectors.result_rows(job)] == [1, 2]
    assert jobs_counted("cancelled") == cancelled_before + 1


def test_a_client_has_a_limited_number_of_active_jobs(settings):
    settings.BATCH_MAX_ACTIVE_PER_CLIENT = 2
    first = services.create_job(filename="1.tsv", source=REVIEWS, client="10.0.0.1")
    services.create_job(filename="2.tsv", source=REVIEWS, client="10.0.0.1")
    with pytest.raises(UploadError) as caught:
        services.create_job(filename="3.tsv", source=REVIEWS, client="10.0.0.1")
    assert (caught.value.code, caught.value.status) == ("too_many_jobs", 429)
    assert "at most 2" in caught.value.message
    services.create_job(filename="other.tsv", source=REVIEWS, client="10.0.0.2")
    services.finish_job(first.id, JobStatus.DONE)
    services.create_job(filename="3.tsv", source=REVIEWS, client="10.0.0.1")
    assert BatchJob.objects.count() == 4


def test_finished_jobs_expire_after_the_retention_period(settings):
    settings.BATCH_RETENTION_DAYS = 30
    settings.BATCH_DELETE_BATCH_ROWS = 2
    old = services.create_job(filename="old.tsv", source=REVIEWS)
    recent = services.create_job(filename="recent.tsv", source=REVIEWS)
    running = services.create_job(filename="running.tsv", source=REVIEWS)
    for job in (old, recent):
        services.finish_job(job.id, JobStatus.DONE)
    BatchJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=31))
    BatchJob.objects.filter(pk=running.pk).update(created_at=timezone.now() - timedelta(days=90))

    assert services.delete_expired_jobs() == 1

    statuses = dict(BatchJob.objects.values_list("filename", "status"))
    # The expired job stays, without its rows, to answer 410.
    assert statuses == {"old.tsv": "expired", "recent.tsv": "done", "running.tsv": "queued"}
    assert not BatchRow.objects.filter(job_id=old.pk).exists()
    assert not BatchChunk.objects.filter(job_id=old.pk).exists()
    assert BatchRow.objects.filter(job_id=recent.pk).count() == 5
    assert services.delete_expired_jobs() == 0
    # After another retention period the mark goes too.
    BatchJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=61))
    services.delete_expired_jobs()
    assert not BatchJob.objects.filter(pk=old.pk).exists()


def test_rows_are_deleted_a_batch_at_a_time(settings, django_assert_num_queries):
    settings.BATCH_DELETE_BATCH_ROWS = 2
    job = services.create_job(filename="r.tsv", source=REVIEWS)  # rows 1..5
    # The last row number, then rows 0-1, 2-3, 4-5 (one DELETE each), then the chunks.
    with django_assert_num_queries(5):
        services.delete_rows(job.id)
    assert not BatchRow.objects.filter(job=job).exists()


def test_a_job_handed_on_while_redis_is_down_waits_for_the_sweeper(
    unreachable_broker, model_service, settings
):
    from webapp.batch.tasks import process_job

    settings.BATCH_CHUNK_SIZE = 2
    settings.BATCH_TASK_BUDGET_SECONDS = 0  # hand the job on after its first chunk
    job = services.create_job(filename="r.tsv", source=REVIEWS)
    BatchJob.objects.filter(pk=job.pk).update(enqueued_at=timezone.now())

    process_job.apply(args=[str(job.id)])

    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING  # not failed: the upload survives the outage
    assert job.processed_rows == 2
    assert job.enqueued_at is None  # which is what the sweeper looks for
