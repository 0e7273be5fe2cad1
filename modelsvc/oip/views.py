"""Open Inference Protocol endpoints (KServe v2 REST) of the model service.

The classes are DRF views so drf-spectacular documents them (modelsvc/oip/schema.py), but
they dispatch like plain Django views: no DRF request wrapping, content negotiation, parsers,
renderers or exception handler on the prediction path. The bytes in and out are handled by
modelsvc/oip/protocol.py, which also owns the protocol's error shape.
"""

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from rest_framework.views import APIView

from core.errors import too_large_message
from modelsvc import serving
from modelsvc.oip import protocol
from modelsvc.oip import schema as openapi
from modelsvc.serving import LoadedModel

_JSON = "application/json"


def _json(body: bytes, status: int = 200) -> HttpResponse:
    response = HttpResponse(body, content_type=_JSON, status=status)
    # Without it gunicorn frames the body as chunks: one more write and a terminator per call.
    response["Content-Length"] = str(len(body))
    return response


def _error(message: str, status: int) -> HttpResponse:
    return _json(protocol.error_body(message), status)


def _model(name: str, version: str | None) -> LoadedModel:
    """The served model for ``name`` (and ``version``, when the path names one)."""
    if name != protocol.MODEL_NAME:
        raise protocol.ProtocolError(f"model {name!r} not found", 404)
    model = serving.current_model()
    if model is None:
        reason = serving.not_ready_reason() or "model is loading"
        raise protocol.ProtocolError(f"model {name!r} is not ready: {reason}", 503)
    if version is not None and version != model.version:
        raise protocol.ProtocolError(
            f"model {name!r} has no version {version!r} (serving {model.version!r})", 404
        )
    return model


class OipView(APIView):
    """Plain Django dispatch for a DRF-documented view; errors in the protocol's shape."""

    http_method_names = ["get", "head"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        method = (request.method or "").lower()
        handler = getattr(self, method, None) if method in self.http_method_names else None
        if handler is None:
            response = _error(f"method {request.method} not allowed", 405)
            response["Allow"] = ", ".join(self.allowed_methods)
            return response
        try:
            return handler(request, *args, **kwargs)
        except protocol.ProtocolError as exc:
            return _error(exc.message, exc.status)


class ServerLiveView(OipView):
    @openapi.server_live
    def get(self, request: HttpRequest) -> HttpResponse:
        return _json(b'{"live":true}')


class ServerReadyView(OipView):
    @openapi.server_ready
    def get(self, request: HttpRequest) -> HttpResponse:
        if serving.current_model() is None:
            return _json(b'{"ready":false}', 503)
        return _json(b'{"ready":true}')


class ServerMetadataView(OipView):
    @openapi.server_metadata
    def get(self, request: HttpRequest) -> HttpResponse:
        return _json(protocol.dumps(protocol.server_metadata()))


class ModelMetadataView(OipView):
    @openapi.model_metadata
    def get(self, request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
        model = _model(name, version)
        return _json(protocol.dumps(protocol.model_metadata(model.version)))


class ModelReadyView(OipView):
    @openapi.model_ready
    def get(self, request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
        _model(name, version)
        return _json(protocol.dumps({"name": name, "ready": True}))


class InferView(OipView):
    http_method_names = ["post"]

    @openapi.infer
    def post(self, request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
        model = _model(name, version)
        if "HTTP_INFERENCE_HEADER_CONTENT_LENGTH" in request.META:
            raise protocol.ProtocolError("the binary tensor data extension is not supported")
        protocol.check_media_type(request.content_type)
        try:
            body = request.body
        except RequestDataTooBig:
            raise protocol.ProtocolError(too_large_message(), 413) from None
        parsed = protocol.parse_infer_request(body)
        proba = model.predict_proba(parsed.texts, endpoint="infer")
        return _json(protocol.infer_response(parsed, proba, model.version))


class NotFoundView(OipView):
    """Anything else under /v2 answers in the protocol's error shape too."""

    schema = None  # not an endpoint of its own

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _error(f"no such endpoint: {request.path}", 404)
