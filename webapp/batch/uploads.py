"""An uploaded file turned into a job, the same way for the page and the API."""

from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError
from rest_framework.request import Request

from core.model_variants import STABLE
from webapp.batch import services
from webapp.batch.models import BatchJob
from webapp.batch.parsing import UploadError
from webapp.security import client_ip

# Room for the multipart framing around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


def check_declared_size(request: HttpRequest | Request) -> None:
    """UploadError (413) when the declared body is too large, before anything reads it."""
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        services.check_upload_size(int(length) - MULTIPART_OVERHEAD)


def job_from_upload(
    request: HttpRequest | Request, *, missing_file: str, owner: str = ""
) -> BatchJob:
    """The job of the multipart field ``file`` (a Django or DRF request); UploadError if not
    usable, with ``missing_file`` as the message when there is no file.

    Django has written the file to a temporary file by now (past
    FILE_UPLOAD_MAX_MEMORY_SIZE); it is read from there as a stream.
    """
    check_declared_size(request)
    client = client_ip(request)
    services.check_active_limit(client)
    try:
        upload = request.FILES.get("file")
    except (ParseError, MultiPartParserError) as exc:  # DRF's and Django's
        raise UploadError("malformed_upload", f"The multipart body is malformed: {exc}") from None
    if upload is None:
        raise UploadError("missing_file", missing_file)
    services.check_upload_size(upload.size)
    try:
        return services.create_job(
            filename=upload.name or "",
            source=upload,
            client=client,
            owner=owner,
            model=request.POST.get("model") or STABLE,
        )
    finally:
        upload.close()
