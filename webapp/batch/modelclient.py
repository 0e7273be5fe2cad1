"""The model service's batch endpoint, as the batch worker needs it.

Failures are split in two: :class:`ModelServiceUnavailable` is worth waiting for (no
connection, a timeout, a 5xx or 429 answer: the service is restarting or overloaded), and
:class:`ModelServiceRejected` is not (the service refused the request or answered garbage).
"""

import functools
import math
from dataclasses import dataclass

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from core import metrics

SENTIMENTS = frozenset({"positive", "negative"})


class ModelServiceError(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ModelServiceUnavailable(ModelServiceError):
    """Transient: try again later."""


class ModelServiceRejected(ModelServiceError):
    """Permanent: trying again would give the same answer."""


@dataclass(frozen=True)
class Classification:
    sentiment: str
    confidence: float


@dataclass(frozen=True)
class BatchAnswer:
    results: list[Classification]
    model_version: str


@functools.lru_cache(maxsize=1)
def _session() -> requests.Session:
    session = requests.Session()
    # No transport-level retries: the task retries with backoff, and a batch is idempotent.
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=2))
    session.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=2))
    # Proxies from the environment must not divert calls inside the cluster.
    session.trust_env = False
    return session


def _fail(error: ModelServiceError) -> ModelServiceError:
    metrics.APP_MODEL_ERRORS.labels(settings.APP_VERSION, error.reason).inc()
    return error


def _probability(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0.0 <= value <= 1.0
    )


def analyze_batch(reviews: list[str], *, request_id: str) -> BatchAnswer:
    """Classify ``reviews`` in one call; the answer has one result per review, in order."""
    url = f"{settings.MODEL_SERVICE_URL}/analyze/batch"
    try:
        response = _session().post(
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
            if item["sentiment"] in SENTIMENTS and _probability(item["confidence"])
        ]
        model_version = body["model_version"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _fail(ModelServiceRejected("bad_response", f"unexpected answer: {exc}")) from exc
    if len(results) != len(reviews) or not isinstance(model_version, str):
        raise _fail(
            ModelServiceRejected(
                "bad_response", f"{len(results)} usable results for {len(reviews)} reviews"
            )
        )
    return BatchAnswer(results, model_version[:64])
