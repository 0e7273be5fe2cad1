"""HTTP client of the model service: pooled connections, bounded time, checked answers.

Every failure surfaces as :class:`ModelServiceError` with one of a few reasons, so callers
can degrade gracefully and count failures by cause without knowing about ``requests``.
"""

import functools
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

SENTIMENTS = frozenset({"positive", "negative"})
MAX_MODEL_VERSION_CHARS = 64  # Prediction.model_version's column size
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class ModelServiceError(Exception):
    """The model service could not give a usable answer.

    ``reason`` is one of ``unavailable`` (no connection), ``timeout``, ``http_error``
    (a non-200 status) or ``bad_response`` (an answer that is not the documented shape).
    """

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ModelAnswer:
    sentiment: str
    confidence: float
    model_version: str


@functools.lru_cache(maxsize=1)
def _session(connect_retries: int) -> requests.Session:
    """One pooled session per process (rebuilt only if the retry setting changes).

    Only failures to connect are retried: such a request never reached the server, so even
    a POST is safe to send again. ``read=False`` makes any error after the request was sent
    (a timeout, a dropped connection) surface at once: a prediction that may have run is
    never sent twice, and a read timeout stays a timeout instead of a generic retry error.
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
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=retry)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # Proxies from the environment must not divert calls inside the cluster.
    session.trust_env = False
    return session


def request_id_from(incoming: str | None) -> str:
    """The caller's request id when it is a safe token, else a fresh one."""
    if incoming and _SAFE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _call(method: str, path: str, *, request_id: str, variant: str | None, **kwargs) -> Any:
    headers = {"x-request-id": request_id, "accept": "application/json"}
    if variant:
        headers["x-user-experiment"] = variant
    session = _session(settings.MODEL_SERVICE_RETRIES)
    try:
        response = session.request(
            method,
            f"{settings.MODEL_SERVICE_URL}{path}",
            headers=headers,
            timeout=(settings.MODEL_SERVICE_CONNECT_TIMEOUT, settings.MODEL_SERVICE_READ_TIMEOUT),
            allow_redirects=False,
            **kwargs,
        )
    # ConnectTimeout is also a ConnectionError: test timeouts first.
    except requests.Timeout as exc:
        raise ModelServiceError("timeout", str(exc)) from exc
    except requests.RequestException as exc:
        raise ModelServiceError("unavailable", str(exc)) from exc
    if response.status_code != 200:
        raise ModelServiceError("http_error", f"HTTP {response.status_code} from {path}")
    try:
        return response.json()
    except ValueError as exc:
        raise ModelServiceError("bad_response", f"{path} answered non-JSON") from exc


def _is_probability(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0.0 <= value <= 1.0
    )


def analyze(review: str, *, request_id: str, variant: str | None = None) -> ModelAnswer:
    """Classify one review; the text is sent exactly as given (JSON, UTF-8)."""
    body = _call(
        "POST", "/analyze", json={"review": review}, request_id=request_id, variant=variant
    )
    if not isinstance(body, dict):
        raise ModelServiceError("bad_response", "/analyze answered something else than an object")
    sentiment = body.get("sentiment")
    confidence = body.get("confidence")
    model_version = body.get("model_version")
    if sentiment not in SENTIMENTS:
        raise ModelServiceError("bad_response", f"unknown sentiment {sentiment!r}")
    if not _is_probability(confidence):
        raise ModelServiceError("bad_response", f"confidence {confidence!r} is not in 0..1")
    if (
        not isinstance(model_version, str)
        or not model_version.strip()
        or len(model_version) > MAX_MODEL_VERSION_CHARS
    ):
        raise ModelServiceError("bad_response", f"unusable model_version {model_version!r}")
    return ModelAnswer(sentiment, float(confidence), model_version)


def version(*, request_id: str) -> dict:
    """The model service's own /version answer."""
    body = _call("GET", "/version", request_id=request_id, variant=None)
    if not isinstance(body, dict):
        raise ModelServiceError("bad_response", "/version answered something else than an object")
    return body
