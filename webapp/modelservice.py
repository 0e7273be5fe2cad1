"""HTTP client of the model service, for single reviews and batches alike.

Pooled connections, bounded time, checked answers. Every failure surfaces as a
:class:`ModelServiceError` with a ``reason`` (``unavailable``, ``timeout``, ``http_error``,
``bad_response``), classified once here as :class:`ModelServiceUnavailable` (worth waiting
for: no connection, a timeout, a 5xx or 429 answer) or :class:`ModelServiceRejected` (trying
again would give the same answer). Failed predictions are counted here, by reason, so callers
degrade gracefully without knowing about the HTTP library.

The calls go through urllib3 itself rather than ``requests`` on top of it: on the single-review
path the web app's own CPU is the limit, and ``requests`` spent about 0.3 ms of it per call
on merging settings and type checks (bench/README.md).

Every call names the model it wants (v1 or v2) in the ``x-model-variant`` header, which the
mesh routes on, and goes to that model's URL (one Service in the cluster; two ports under
``make run``). A single review that model v2 cannot answer for now is answered by v1 instead.
"""

import functools
import json
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeGuard, TypeVar

import urllib3
from django.conf import settings
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    TimeoutError,
)
from urllib3.util.retry import Retry

from core import metrics
from core.model_variants import CANARY, MODEL_VARIANT_HEADER, STABLE

SENTIMENTS = frozenset({"positive", "negative"})
MAX_MODEL_VERSION_CHARS = 64  # Prediction.model_version's column size
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

T = TypeVar("T")


class ModelServiceError(Exception):
    """The model service could not give a usable answer; ``reason`` says why."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ModelServiceUnavailable(ModelServiceError):
    """Transient: the service is down, restarting or overloaded; try again later."""


class ModelServiceRejected(ModelServiceError):
    """Permanent: the service refused the request or answered garbage."""


class ModelServiceFellBack(ModelServiceUnavailable):
    """Neither the model asked nor v1 in its place could answer: a failure of no arm."""

    def __init__(self, cause: ModelServiceError):
        super().__init__(cause.reason, cause.detail)


@dataclass(frozen=True)
class Classification:
    sentiment: str
    confidence: float


@dataclass(frozen=True)
class ModelAnswer:
    sentiment: str
    confidence: float
    model_version: str
    model_variant: str = STABLE  # the model that answered
    # The model asked first could not answer for now, and v1 answered instead.
    fell_back: bool = False


@dataclass(frozen=True)
class BatchAnswer:
    results: list[Classification]
    model_version: str


@functools.lru_cache(maxsize=1)
def _pool(connect_retries: int) -> urllib3.PoolManager:
    """One pool of connections per process (rebuilt only if the retry setting changes).

    Only failures to connect are retried: such a request never reached the server, so even
    a POST is safe to send again. ``read=False`` makes any error after the request was sent
    (a timeout, a dropped connection) surface at once: a prediction that may have run is
    never sent twice, and a read timeout stays a timeout instead of a generic retry error.
    urllib3 reads no proxy settings from the environment, so none diverts calls inside the
    cluster.
    """
    retry = Retry(
        total=None,
        connect=connect_retries,
        read=False,
        status=0,
        other=0,
        redirect=False,
        allowed_methods=frozenset({"GET", "POST"}),
        backoff_factor=0.1,
        raise_on_status=False,
    )
    return urllib3.PoolManager(num_pools=4, maxsize=16, retries=retry)


def request_id_from(incoming: str | None) -> str:
    """The caller's request id when it is a safe token, else a fresh one."""
    if incoming and _SAFE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _base_url(model: str) -> str:
    if model == CANARY:
        return settings.MODEL_SERVICE_V2_URL
    if model == STABLE:
        return settings.MODEL_SERVICE_URL
    raise ModelServiceRejected("unknown_model", f"no model {model!r}")


def _headers(request_id: str, variant: str | None, model: str = STABLE) -> dict[str, str]:
    """The request id, experiment arm and model travel on, so the mesh routes and traces
    the call. The model header is always set: a client's own never reaches the model."""
    headers = {
        "x-request-id": request_id,
        "accept": "application/json",
        MODEL_VARIANT_HEADER: model,
    }
    if variant:
        headers["x-user-experiment"] = variant
    return headers


def _connect_failure(error: Exception | None) -> str:
    # A refused connection is a NewConnectionError, which urllib3 derives from
    # ConnectTimeoutError: test it first.
    if isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError):
        return "timeout"
    return "unavailable"


def _call(
    method: str, path: str, headers: dict[str, str], read_timeout: float, payload: Any = None
) -> Any:
    """One request; the decoded JSON answer of a 200, any other outcome classified."""
    url = _base_url(headers.get(MODEL_VARIANT_HEADER, STABLE))
    body = None
    if payload is not None:
        body = json.dumps(payload, allow_nan=False).encode()
        headers = {**headers, "content-type": "application/json"}
    try:
        response = _pool(settings.MODEL_SERVICE_RETRIES).request(
            method,
            f"{url}{path}",
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(
                connect=settings.MODEL_SERVICE_CONNECT_TIMEOUT, read=read_timeout
            ),
            redirect=False,
        )
    except MaxRetryError as exc:  # every connect attempt failed
        raise ModelServiceUnavailable(_connect_failure(exc.reason), str(exc)) from exc
    except TimeoutError as exc:
        raise ModelServiceUnavailable("timeout", str(exc)) from exc
    except HTTPError as exc:
        raise ModelServiceUnavailable("unavailable", str(exc)) from exc
    status = response.status
    if status == HTTPStatus.TOO_MANY_REQUESTS or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        raise ModelServiceUnavailable("http_error", f"HTTP {status} from {path}")
    if status != HTTPStatus.OK:
        raise ModelServiceRejected("http_error", f"HTTP {status} from {path}")
    try:
        return json.loads(response.data)
    except ValueError as exc:
        raise ModelServiceRejected("bad_response", f"{path} answered non-JSON") from exc


def _object(body: Any, path: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ModelServiceRejected("bad_response", f"{path} answered something else than an object")
    return body


def _is_probability(value: Any) -> TypeGuard[float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0.0 <= value <= 1.0
    )


def _classification(item: Any) -> Classification:
    if not isinstance(item, dict):
        raise ModelServiceRejected("bad_response", f"result {item!r} is not an object")
    sentiment = item.get("sentiment")
    confidence = item.get("confidence")
    if sentiment not in SENTIMENTS:
        raise ModelServiceRejected("bad_response", f"unknown sentiment {sentiment!r}")
    if not _is_probability(confidence):
        raise ModelServiceRejected("bad_response", f"confidence {confidence!r} is not in 0..1")
    return Classification(sentiment, float(confidence))


def _model_version(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_MODEL_VERSION_CHARS:
        raise ModelServiceRejected("bad_response", f"unusable model_version {value!r}")
    return value


def _predict(
    path: str,
    payload: dict[str, Any],
    parse: Callable[[dict[str, Any]], T],
    headers: dict[str, str],
    read_timeout: float,
) -> T:
    """POST a prediction request and parse its answer; the one place failures are counted."""
    try:
        body = _call("POST", path, headers, read_timeout, payload)
        return parse(_object(body, path))
    except ModelServiceError as exc:
        model = headers.get(MODEL_VARIANT_HEADER, STABLE)
        metrics.APP_MODEL_ERRORS.labels(settings.APP_VERSION, model, exc.reason).inc()
        raise


def _answer(model: str, body: dict[str, Any]) -> ModelAnswer:
    result = _classification(body)
    answered_by = body.get("model_variant", model)
    if answered_by != model:
        # Mis-routed (v2's URL or route leads to v1): the model asked is not reachable, so
        # the review falls back instead of counting another model's answer for this arm.
        raise ModelServiceUnavailable("wrong_model", f"model {answered_by!r} answered for {model}")
    return ModelAnswer(
        result.sentiment, result.confidence, _model_version(body.get("model_version")), model
    )


def _batch_answer(expected: int, body: dict[str, Any]) -> BatchAnswer:
    items = body.get("results")
    if not isinstance(items, list) or len(items) != expected:
        count = len(items) if isinstance(items, list) else 0
        raise ModelServiceRejected("bad_response", f"{count} results for {expected} reviews")
    results = [_classification(item) for item in items]
    return BatchAnswer(results, _model_version(body.get("model_version")))


def analyze(
    review: str, *, request_id: str, variant: str | None = None, model: str = STABLE
) -> ModelAnswer:
    """Classify one review with ``model``; the text is sent exactly as given (JSON, UTF-8).

    When a model other than v1 is down, not ready or overloaded (ModelServiceUnavailable),
    v1 answers instead: counted as a fallback, and marked ``fell_back`` so the answer is
    recorded for neither arm of a model experiment. A refusal or a garbled answer is v2's
    own failure and is raised.
    """

    def ask(model: str) -> ModelAnswer:
        return _predict(
            "/analyze",
            {"review": review},
            functools.partial(_answer, model),
            _headers(request_id, variant, model),
            settings.MODEL_SERVICE_READ_TIMEOUT,
        )

    try:
        return ask(model)
    except ModelServiceUnavailable as exc:
        if model == STABLE:
            raise
        metrics.APP_MODEL_FALLBACKS.labels(settings.APP_VERSION, model, exc.reason).inc()
    try:
        answer = ask(STABLE)
    except ModelServiceError as exc:
        raise ModelServiceFellBack(exc) from exc
    return ModelAnswer(
        answer.sentiment, answer.confidence, answer.model_version, STABLE, fell_back=True
    )


def analyze_batch(reviews: list[str], *, request_id: str, model: str = STABLE) -> BatchAnswer:
    """Classify ``reviews`` in one call; the answer has one result per review, in order.

    A failed connect is retried by the session only, so no batch is sent twice; anything
    later is the caller's to retry, with backoff.
    """
    return _predict(
        "/analyze/batch",
        {"reviews": reviews},
        functools.partial(_batch_answer, len(reviews)),
        _headers(request_id, None, model),
        settings.BATCH_READ_TIMEOUT,
    )


def version(*, request_id: str, model: str = STABLE) -> dict[str, Any]:
    """The /version answer of ``model``'s service (a probe: its failures are not counted)."""
    headers = _headers(request_id, None, model)
    body = _call("GET", "/version", headers, settings.MODEL_SERVICE_READ_TIMEOUT)
    return _object(body, "/version")
