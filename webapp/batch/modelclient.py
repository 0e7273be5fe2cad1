"""The model service's batch endpoint, as the batch worker needs it.

Failures are split in two: :class:`ModelServiceUnavailable` is worth waiting for (no
connection, a timeout, a 5xx or 429 answer: the service is restarting or overloaded), and
:class:`ModelServiceRejected` is not (the service refused the request or answered garbage).
"""

from dataclasses import dataclass

import requests
from django.conf import settings

from core import metrics
from webapp.reviews import client


class ModelServiceUnavailable(client.ModelServiceError):
    """Transient: try again later."""


class ModelServiceRejected(client.ModelServiceError):
    """Permanent: trying again would give the same answer."""


@dataclass(frozen=True)
class Classification:
    sentiment: str
    confidence: float


@dataclass(frozen=True)
class BatchAnswer:
    results: list[Classification]
    model_version: str


def _fail(error: client.ModelServiceError) -> client.ModelServiceError:
    metrics.APP_MODEL_ERRORS.labels(settings.APP_VERSION, error.reason).inc()
    return error


def analyze_batch(reviews: list[str], *, request_id: str) -> BatchAnswer:
    """Classify ``reviews`` in one call; the answer has one result per review, in order."""
    url = f"{settings.MODEL_SERVICE_URL}/analyze/batch"
    try:
        # The web app's pooled session: it retries failed connects only, so no batch is sent
        # twice; anything later is retried by the task, with backoff.
        response = client._session(settings.MODEL_SERVICE_RETRIES).post(
            url,
            json={"reviews": reviews},
            headers={"x-request-id": request_id, "accept": "application/json"},
            timeout=(settings.MODEL_SERVICE_CONNECT_TIMEOUT, settings.BATCH_READ_TIMEOUT),
            allow_redirects=False,
        )
    except requests.Timeout as exc:
        raise _fail(ModelServiceUnavailable("timeout", str(exc))) from exc
    except requests.RequestException as exc:
        raise _fail(ModelServiceUnavailable("unavailable", str(exc))) from exc
    status = response.status_code
    if status == 429 or status >= 500:
        raise _fail(ModelServiceUnavailable("http_error", f"HTTP {status} from /analyze/batch"))
    if status != 200:
        raise _fail(ModelServiceRejected("http_error", f"HTTP {status} from /analyze/batch"))
    try:
        body = response.json()
        results = [
            Classification(item["sentiment"], float(item["confidence"]))
            for item in body["results"]
            if item["sentiment"] in client.SENTIMENTS and client._is_probability(item["confidence"])
        ]
        model_version = body["model_version"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _fail(ModelServiceRejected("bad_response", f"unexpected answer: {exc}")) from exc
    if len(results) != len(reviews):
        raise _fail(
            ModelServiceRejected(
                "bad_response", f"{len(results)} usable results for {len(reviews)} reviews"
            )
        )
    if (
        not isinstance(model_version, str)
        or not model_version.strip()
        or len(model_version) > client.MAX_MODEL_VERSION_CHARS
    ):
        raise _fail(
            ModelServiceRejected("bad_response", f"unusable model_version {model_version!r}")
        )
    return BatchAnswer(results, model_version)
