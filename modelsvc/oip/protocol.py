"""Open Inference Protocol (KServe v2 REST) for the sentiment model: parse, validate, answer.

Plain functions over bytes and dicts, no Django request objects, so the prediction path costs
what the protocol needs and nothing more. The model takes one ``BYTES`` input named ``text``
(one review per element) and produces three outputs; see :data:`OUTPUTS`.

Errors follow the protocol, ``{"error": "<message>"}`` with an HTTP 4xx/5xx status, not the
house shape of the rest of the API: generic clients of the protocol (Triton's, MLServer's)
read ``error`` as the message string. modelsvc/oip/README.md explains the decision.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from django.conf import settings

from core import review
from core.version import APP_VERSION
from modelsvc.config import MODEL_NAME, MODEL_VARIANT, SERVICE_NAME
from modelsvc.serving import LABELS, POSITIVE_FROM

PLATFORM = "sklearn"

INPUT_NAME = "text"
# Output name -> (datatype, shape with -1 for the batch dimension), in default response order.
OUTPUTS: dict[str, tuple[str, list[int]]] = {
    "label": ("BYTES", [-1]),
    "confidence": ("FP64", [-1]),
    "predict_proba": ("FP64", [-1, len(LABELS)]),
}
_ALL_OUTPUTS = tuple(OUTPUTS)
# MLServer's content types: "str" for text, "np" for numeric tensors. Stating them lets its
# codecs (and clients built on them) decode our responses without guessing.
_STR_PARAMS = {"content_type": "str"}
_NP_PARAMS = {"content_type": "np"}
# The rules of core.review, in the protocol's words.
_REVIEW_MESSAGES = {
    review.Problem.MISSING: "must be a string",
    review.Problem.NOT_A_STRING: "must be a string",
    review.Problem.TOO_LONG: "must be at most {max_chars} characters",
    review.Problem.BLANK: "must not be empty or only whitespace",
    review.Problem.NULL_CHARACTER: "must not contain null characters",
}


class ProtocolError(Exception):
    """A request the protocol or the model cannot take; answered as ``{"error": message}``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class InferRequest:
    texts: list[str]
    outputs: tuple[str, ...]
    id: str | None


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})


def dumps(payload: Any) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


def _object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ProtocolError(f"{where} must be a JSON object")
    return value


def _check_content_type(parameters: Any, where: str) -> None:
    """Only text makes sense for this model; refuse codecs it cannot honour (e.g. "pd")."""
    if parameters is None:
        return
    content_type = _object(parameters, f"{where}.parameters").get("content_type")
    if content_type is not None and content_type != "str":
        raise ProtocolError(
            f"{where}.parameters.content_type {content_type!r} is not supported; "
            'this model takes text ("str")'
        )


def check_media_type(content_type: str | None) -> None:
    """A body that says it is not JSON is a 415, as on the rest of the API; a request that
    names no type at all is read as JSON, as protocol clients expect."""
    if content_type and content_type != "application/json":
        raise ProtocolError(f"unsupported media type {content_type!r}: send application/json", 415)


def _batch_size(shape: Any) -> int:
    """N from a shape of [N] or [N, 1] (the batch of one-string rows some clients send)."""
    if (
        not isinstance(shape, list)
        or not shape
        or not all(type(dim) is int and dim >= 0 for dim in shape)
    ):
        raise ProtocolError("inputs[0].shape must be a list of non-negative integers")
    if len(shape) == 1 or shape[1:] == [1]:
        return shape[0]
    raise ProtocolError(f"inputs[0].shape must be [N] or [N, 1] for {INPUT_NAME!r}, got {shape}")


def _texts(data: Any, n: int) -> list[str]:
    if not isinstance(data, list):
        raise ProtocolError("inputs[0].data must be a list of strings")
    # Tensor data may come nested ([[s], [s]] for shape [N, 1]) or flat; the model wants flat.
    if data and isinstance(data[0], list):
        if not all(isinstance(row, list) and len(row) == 1 for row in data):
            raise ProtocolError("inputs[0].data rows must each hold exactly one string")
        data = [row[0] for row in data]
    limit = settings.MAX_BATCH_REVIEWS
    if len(data) > limit:
        raise ProtocolError(f"at most {limit} reviews per request, got {len(data)}")
    if len(data) != n:
        raise ProtocolError(f"inputs[0].shape says {n} elements but data has {len(data)}")
    if n == 0:
        raise ProtocolError("inputs[0] must hold at least one review")
    for i, text in enumerate(data):
        problem = review.review_problem(text)
        if problem is not None:
            message = _REVIEW_MESSAGES[problem].format(max_chars=review.max_chars())
            raise ProtocolError(f"inputs[0].data[{i}]: {message}")
    return data


def _requested_outputs(outputs: Any) -> tuple[str, ...]:
    if outputs is None or outputs == []:
        return _ALL_OUTPUTS
    if not isinstance(outputs, list):
        raise ProtocolError("outputs must be a list of {name} objects")
    names: list[str] = []
    for i, item in enumerate(outputs):
        name = _object(item, f"outputs[{i}]").get("name")
        if not isinstance(name, str) or name not in OUTPUTS:
            raise ProtocolError(
                f"outputs[{i}].name {name!r} is not an output of this model; "
                f"available: {', '.join(OUTPUTS)}"
            )
        if name not in names:
            names.append(name)
    return tuple(names)


def parse_infer_request(body: bytes) -> InferRequest:
    """Validate an inference request body; any problem is a :class:`ProtocolError` (400)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON: {exc}") from None
    payload = _object(payload, "the request body")
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise ProtocolError("id must be a string")
    _check_content_type(payload.get("parameters"), "request")

    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ProtocolError(f"inputs must be a list holding one {INPUT_NAME!r} input")
    if len(inputs) != 1:
        raise ProtocolError(
            f"this model takes exactly one input ({INPUT_NAME!r}), got {len(inputs)}"
        )
    tensor = _object(inputs[0], "inputs[0]")
    if tensor.get("name") != INPUT_NAME:
        raise ProtocolError(f"inputs[0].name must be {INPUT_NAME!r}, got {tensor.get('name')!r}")
    if tensor.get("datatype") != "BYTES":
        raise ProtocolError(f"inputs[0].datatype must be 'BYTES', got {tensor.get('datatype')!r}")
    _check_content_type(tensor.get("parameters"), "inputs[0]")
    n = _batch_size(tensor.get("shape"))
    texts = _texts(tensor.get("data"), n)
    return InferRequest(texts, _requested_outputs(payload.get("outputs")), request_id)


def _tensor(name: str, datatype: str, shape: list[int], parameters: dict, data: Any) -> dict:
    return {
        "name": name,
        "datatype": datatype,
        "shape": shape,
        "parameters": parameters,
        "data": data,
    }


def _output(name: str, proba: np.ndarray) -> dict:
    n = len(proba)
    if name == "label":
        labels = [LABELS[int(p >= POSITIVE_FROM)] for p in proba[:, 1].tolist()]
        return _tensor(name, "BYTES", [n], _STR_PARAMS, labels)
    if name == "confidence":
        return _tensor(name, "FP64", [n], _NP_PARAMS, proba.max(axis=1))
    flat = np.ascontiguousarray(proba).ravel()  # row-major, as the protocol lays tensors out
    return _tensor(name, "FP64", list(proba.shape), _NP_PARAMS, flat)


def infer_response(request: InferRequest, proba: np.ndarray, model_version: str) -> bytes:
    """The inference response for ``proba`` ([N, 2]: negative, positive), as JSON bytes."""
    return dumps(
        {
            "model_name": MODEL_NAME,
            "model_version": model_version,
            "id": request.id if request.id is not None else str(uuid.uuid4()),
            # The protocol's place for extras: which of the side-by-side models answered.
            "parameters": {"model_variant": MODEL_VARIANT},
            "outputs": [_output(name, proba) for name in request.outputs],
        }
    )


def server_metadata() -> dict:
    return {"name": SERVICE_NAME, "version": APP_VERSION, "extensions": []}


def model_metadata(model_version: str) -> dict:
    return {
        "name": MODEL_NAME,
        "versions": [model_version],
        "platform": PLATFORM,
        "inputs": [{"name": INPUT_NAME, "datatype": "BYTES", "shape": [-1]}],
        "outputs": [
            {"name": name, "datatype": datatype, "shape": shape}
            for name, (datatype, shape) in OUTPUTS.items()
        ],
    }
