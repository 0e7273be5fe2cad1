"""Batch analysis pages: an upload form that works without JavaScript, and a job page
that static/batch/job.js keeps up to date by polling the job's progress."""

import uuid

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from webapp.batch import selectors, tasks, uploads
from webapp.batch.parsing import UploadError
from webapp.experiments.middleware import visitor_id


def _index(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "error": error,
        "max_mb": settings.BATCH_MAX_BYTES / 1_048_576,
        "max_rows": settings.BATCH_MAX_ROWS,
        "max_chars": settings.MAX_REVIEW_CHARS,
        "recent_jobs": selectors.recent_jobs_of(visitor_id(request)),
    }
    return render(request, "batch/index.html", context, status=status)


@csrf_exempt  # checked by _submit, once the size is known to be acceptable
@require_http_methods(["GET", "HEAD", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _index(request)
    # Refused before anything reads the body (the CSRF check would read all of it).
    try:
        uploads.check_declared_size(request)
    except UploadError as exc:
        return _index(request, error=exc.message, status=exc.status)
    return _submit(request)


@csrf_protect
def _submit(request: HttpRequest) -> HttpResponse:
    try:
        job = uploads.job_from_upload(
            request, missing_file="Choose a file to upload.", owner=visitor_id(request)
        )
    except UploadError as exc:
        return _index(request, error=exc.message, status=exc.status)
    tasks.send_new_job(job.id)
    # Post/Redirect/Get: reloading the job page does not upload the file again.
    return redirect("batch:job", job_id=job.id)


@require_http_methods(["GET", "HEAD"])
def job_page(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = selectors.job_by_id(job_id)
    if job is None:
        raise Http404("No such batch job.")
    summary = selectors.summary_of(job)
    preview = selectors.preview_of(job)
    share = summary.share_positive if summary else None  # None until a review is classified
    positive_pct = 100 * share if share is not None else 0
    context = {
        "job": job,
        "summary": summary,
        "preview": preview,
        "preview_sides": [
            ("Most negative", "negative", preview.negative),
            ("Most positive", "positive", preview.positive),
        ]
        if preview
        else [],
        "positive_pct": positive_pct,
        "negative_pct": 100 - positive_pct if share is not None else 0,
        "max_chars": settings.MAX_REVIEW_CHARS,
        "poll_seconds": settings.BATCH_POLL_SECONDS,
    }
    return render(request, "batch/job.html", context)
