"""REST API of batch analysis: upload a file, follow the job, download the results."""

import re
import uuid
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.downloads import DownloadView, csv_lines, spreadsheet_safe
from core.errors import ApiError, error_body
from core.schema import errors
from webapp.batch import selectors, tasks, uploads
from webapp.batch import serializers as s
from webapp.batch.models import BatchJob, JobStatus
from webapp.batch.parsing import UploadError
from webapp.experiments.middleware import visitor_id

CSV_HEADER = ("row", "review", "sentiment", "confidence")


def job_payload(job: BatchJob) -> dict:
    summary = selectors.summary_of(job)
    job_errors = [
        {
            "code": "review_too_long",
            "message": f"Row {row}: longer than {settings.MAX_REVIEW_CHARS:,} characters, skipped.",
            "row": row,
        }
        for row in job.too_long_rows
    ]
    if job.status == JobStatus.FAILED:
        job_errors.insert(0, {"code": "job_failed", "message": job.error or "The job failed."})
    downloadable = job.status in selectors.DOWNLOADABLE
    return {
        "id": job.id,
        "status": job.status,
        "filename": job.filename,
        "progress": {
            "processed": job.processed_rows,
            "total": job.total_rows,
            "percent": round(100 * job.processed_rows / job.total_rows, 1) if job.total_rows else 0,
        },
        "skipped": {"empty": job.skipped_empty, "too_long": job.skipped_too_long},
        "errors": job_errors,
        "notice": job.notice or None,
        "summary": {
            "positive": summary.positive,
            "negative": summary.negative,
            "share_positive": summary.share_positive,
        }
        if summary
        else None,
        "model_variant": job.model_variant,
        "model_version": job.model_version or None,
        "results_url": reverse("batch:api-results", args=[job.id]) if downloadable else None,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def job_or_404(job_id: uuid.UUID) -> BatchJob:
    job = selectors.job_by_id(job_id)
    if job is None:
        raise ApiError("not_found", "No batch job has this id.", status.HTTP_404_NOT_FOUND)
    if job.status == JobStatus.EXPIRED:
        raise ApiError(
            "job_expired",
            f"The job's reviews and results were deleted {settings.BATCH_RETENTION_DAYS} days "
            "after it finished.",
            status.HTTP_410_GONE,
        )
    return job


class BatchCollectionView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        responses={200: s.JobListResponse},
        summary="The caller's recent batch jobs, newest first",
        operation_id="api_batch_list",
        description=(
            "Only the jobs uploaded by the same visitor: the `sentiment_visitor` cookie, or "
            f"the `x-user-id` header for API clients; at most {selectors.RECENT_JOBS}. A "
            "caller that names neither has no jobs listed."
        ),
    )
    def get(self, request: Request) -> Response:
        jobs = selectors.recent_jobs_of(visitor_id(request))
        return Response({"jobs": [job_payload(job) for job in jobs]})

    @extend_schema(
        request={"multipart/form-data": s.UploadRequest},
        responses={202: s.JobResponse, **errors(400, 413, 415, 429)},
        summary="Upload a CSV or TSV file of reviews for batch analysis",
        description=(
            "The file needs a `Review` column; the delimiter (tab, comma or semicolon) is "
            "taken from the header line, TSV has no quoting; it may be gzip-compressed. Empty "
            "rows and reviews over MAX_REVIEW_CHARS are skipped and counted. Errors: "
            "`missing_file`, `empty_file`, `file_too_large` (413, BATCH_MAX_BYTES of text "
            "once unpacked), `too_many_rows` (BATCH_MAX_ROWS), `not_text` (binary, another "
            "archive, damaged gzip or not UTF-8), `missing_review_column`, `malformed_csv` "
            "(naming the line), `no_reviews`, `malformed_upload`, `too_many_jobs` (429, "
            "BATCH_MAX_ACTIVE_PER_CLIENT jobs waiting or running)."
        ),
    )
    def post(self, request: Request) -> Response:
        try:
            job = uploads.job_from_upload(
                request,
                missing_file="Send the file in the multipart field 'file'.",
                owner=visitor_id(request),
            )
        except UploadError as exc:
            raise ApiError(exc.code, exc.message, exc.status) from None
        tasks.send_new_job(job.id)
        job.refresh_from_db()
        return Response(
            job_payload(job),
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": reverse("batch:api-job", args=[job.id])},
        )


class BatchJobView(APIView):
    @extend_schema(
        responses={200: s.JobResponse, **errors(404, 410)},
        summary="Status, progress and result summary of a batch job",
        description="410 `job_cancelled` (the body's `error.job` is the job, whose "
        "`results_url` serves what was classified before the cancellation) or `job_expired` "
        "(its rows were deleted after BATCH_RETENTION_DAYS).",
    )
    def get(self, request: Request, job_id: uuid.UUID) -> Response:
        job = job_or_404(job_id)
        if job.status == JobStatus.CANCELLED:
            body = error_body("job_cancelled", job.error or "The job was cancelled.")
            # What was classified before the cancellation stays downloadable: results_url.
            body["error"]["job"] = job_payload(job)
            return Response(body, status=status.HTTP_410_GONE)
        return Response(job_payload(job))


class BatchProgressView(APIView):
    """What the job page polls: one indexed row, no experiment bookkeeping (its path is
    skipped by the experiments middleware), so it is cheap enough to be left out of the
    gateway's rate limit (deploy/istio/envoyfilter-rate-limit.yaml)."""

    @extend_schema(
        responses={200: s.ProgressResponse, **errors(404)},
        summary="Status and progress of a batch job, cheaply",
        operation_id="api_batch_progress",
    )
    def get(self, request: Request, job_id: uuid.UUID) -> Response:
        progress = selectors.progress_of(job_id)
        if progress is None:
            raise ApiError("not_found", "No batch job has this id.", status.HTTP_404_NOT_FOUND)
        return Response(
            {
                "status": progress["status"],
                "processed": progress["processed_rows"],
                "total": progress["total_rows"],
                "notice": progress["notice"] or None,
            },
            headers={"Cache-Control": "no-store"},
        )


def result_lines(rows: Iterable[tuple[int, str, str, float | None]]) -> Iterator[str]:
    return csv_lines(
        CSV_HEADER,
        (
            (
                row,
                spreadsheet_safe(review),
                sentiment,
                "" if confidence is None else f"{confidence:.4f}",
            )
            for row, review, sentiment, confidence in rows
        ),
    )


def download_name(filename: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", filename.rsplit(".", 1)[0]).strip("._")[:80]
    return f"{stem or 'reviews'}-sentiment.csv"


class BatchResultsView(DownloadView):
    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="row,review,sentiment,confidence (UTF-8); cells that a "
                "spreadsheet would run as a formula start with an apostrophe.",
            ),
            **errors(404, 409, 410),
        },
        summary="Download the results of a finished batch job as CSV",
        operation_id="api_batch_results",
        description="409 `not_ready` while the job is queued or running, `job_failed` "
        "when it failed; 410 `job_expired` once its rows were deleted. A cancelled job "
        "serves the rows classified before it stopped.",
    )
    def get(self, request: Request, job_id: uuid.UUID) -> StreamingHttpResponse:
        job = job_or_404(job_id)
        if job.status == JobStatus.FAILED:
            raise ApiError("job_failed", f"The job failed: {job.error}", status.HTTP_409_CONFLICT)
        if job.status not in selectors.DOWNLOADABLE:
            raise ApiError(
                "not_ready",
                f"The job is {job.status}; results are ready when it is done.",
                status.HTTP_409_CONFLICT,
            )
        response = StreamingHttpResponse(
            result_lines(selectors.result_rows(job)), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{download_name(job.filename)}"'
        return response
