"""HTTP endpoints of the model service; thin wrappers over ``modelsvc.serving``."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApiError
from core.schema import errors
from modelsvc import serving
from modelsvc.api import serializers as s
from modelsvc.config import MODEL_VARIANT, SERVICE_NAME


def require_model() -> serving.LoadedModel:
    model = serving.current_model()
    if model is None:
        raise ApiError("model_not_ready", serving.not_ready_reason() or "model is loading", 503)
    return model


class AnalyzeView(APIView):
    @extend_schema(
        request=s.AnalyzeRequest,
        responses={200: s.AnalyzeResponse, **errors(400, 413, 415, 503)},
        summary="Classify one review",
    )
    def post(self, request: Request) -> Response:
        data = s.AnalyzeRequest(data=request.data)
        data.is_valid(raise_exception=True)
        model = require_model()
        prediction = model.predict([data.validated_data["review"]], endpoint="analyze")[0]
        return Response(
            {
                "sentiment": prediction.sentiment,
                "confidence": prediction.confidence,
                "model_version": model.version,
                "model_variant": MODEL_VARIANT,
            }
        )


class BatchAnalyzeView(APIView):
    @extend_schema(
        request=s.BatchRequest,
        responses={200: s.BatchResponse, **errors(400, 413, 415, 503)},
        summary=f"Classify up to {settings.MAX_BATCH_REVIEWS} reviews in one call",
    )
    def post(self, request: Request) -> Response:
        data = s.BatchRequest(data=request.data)
        data.is_valid(raise_exception=True)
        model = require_model()
        predictions = model.predict(data.validated_data["reviews"], endpoint="batch")
        return Response(
            {
                "results": [
                    {"sentiment": p.sentiment, "confidence": p.confidence} for p in predictions
                ],
                "model_version": model.version,
                "model_variant": MODEL_VARIANT,
            }
        )


class VersionView(APIView):
    @extend_schema(responses={200: s.VersionResponse}, summary="Service and model versions")
    def get(self, request: Request) -> Response:
        model = serving.current_model()
        return Response(
            {
                "service": SERVICE_NAME,
                "service_version": settings.APP_VERSION,
                "model_variant": MODEL_VARIANT,
                "model_version": model.version if model else None,
                "model_sha256": model.sha256 if model else None,
                "model_metrics": model.metrics if model else None,
            }
        )


class LiveView(APIView):
    @extend_schema(responses={200: s.HealthResponse}, summary="Liveness")
    def get(self, request: Request) -> Response:
        return Response({"status": "alive"})


class ReadyView(APIView):
    @extend_schema(responses={200: s.HealthResponse, **errors(503)}, summary="Readiness")
    def get(self, request: Request) -> Response:
        model = require_model()
        return Response({"status": "ready", "model_version": model.version}, status.HTTP_200_OK)
