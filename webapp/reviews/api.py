"""REST API of the web app; thin wrappers over services and selectors."""

from django.conf import settings
from django.db import DatabaseError, connection
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApiError
from core.model_variants import STABLE
from core.schema import errors
from webapp import modelservice
from webapp.experiments.arm import model_arm_of, recorded_arm
from webapp.readiness import pending_migrations
from webapp.reviews import serializers as s
from webapp.reviews import services
from webapp.reviews.context import analyze_review_for, request_id_of
from webapp.reviews.models import Prediction

MODEL_UNAVAILABLE = "The sentiment model is not available right now. Please try again shortly."


class AnalyzeView(APIView):
    @extend_schema(
        request=s.AnalyzeRequest,
        responses={200: s.AnalyzeResponse, **errors(400, 413, 415, 503)},
        summary="Classify a review and store the prediction",
        description="503 `model_unavailable` when the model service is down, slow or "
        "answers garbage; the review is kept as a failed prediction.",
        examples=[
            OpenApiExample("review", value={"review": "The pasta was perfect!"}, request_only=True),
            OpenApiExample(
                "prediction",
                value={
                    "prediction_id": "0f8fe3c2-5b1e-4c1e-9b53-2f0c7a1d9e55",
                    "sentiment": "positive",
                    "confidence": 0.93,
                    "emoji": "😊",
                    "app_version": "1.0.0",
                    "model_version": "1.0.0+d1239571",
                    "model_variant": "v1",
                    "variant": "B",
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def post(self, request: Request):
        data = s.AnalyzeRequest(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            prediction = analyze_review_for(request, data.validated_data["review"])
        except modelservice.ModelServiceError:
            raise ApiError("model_unavailable", MODEL_UNAVAILABLE, 503) from None
        return Response(
            {
                "prediction_id": prediction.id,
                "sentiment": prediction.sentiment,
                "confidence": prediction.confidence,
                "emoji": prediction.emoji,
                "app_version": prediction.app_version,
                "model_version": prediction.model_version,
                "model_variant": prediction.model_variant,
                "variant": prediction.variant or None,
            }
        )


class FeedbackView(APIView):
    @extend_schema(
        request=s.FeedbackRequest,
        responses={201: s.FeedbackResponse, **errors(400, 404, 409, 415)},
        summary="Say whether a prediction was right (once per prediction)",
        description="409 `feedback_exists` when the prediction already has feedback; the "
        "first answer is kept.",
    )
    def post(self, request: Request):
        data = s.FeedbackRequest(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            feedback = services.record_feedback(
                data.validated_data["prediction_id"], data.validated_data["correct"]
            )
        except Prediction.DoesNotExist:
            raise ApiError("not_found", "No prediction has this id.", 404) from None
        except services.FeedbackAlreadyGiven:
            raise ApiError(
                "feedback_exists", "This prediction already has feedback; it was kept.", 409
            ) from None
        return Response(
            {
                "prediction_id": feedback.prediction_id,
                "correct": feedback.correct,
                "created_at": feedback.created_at,
            },
            status=status.HTTP_201_CREATED,
        )


class VersionView(APIView):
    @extend_schema(responses={200: s.VersionResponse}, summary="App and model versions")
    def get(self, request: Request):
        model_arm = model_arm_of(request)
        model = model_arm.model if model_arm else STABLE
        try:
            model_service = modelservice.version(request_id=request_id_of(request), model=model)
            error = None
        except modelservice.ModelServiceError as exc:
            model_service, error = None, exc.reason
        arm = recorded_arm(request)
        return Response(
            {
                "app_version": settings.APP_VERSION,
                "app_variant": settings.APP_VARIANT,
                "variant": arm.variant if arm else None,
                "model_variant": model,
                "model_service": model_service,
                "model_service_error": error,
            }
        )


class LiveView(APIView):
    @extend_schema(responses={200: s.HealthResponse}, summary="Liveness")
    def get(self, request: Request):
        return Response({"status": "alive"})


class ReadyView(APIView):
    @extend_schema(responses={200: s.HealthResponse, **errors(503)}, summary="Readiness")
    def get(self, request: Request):
        # Only the database and its schema: without the model service the page still works
        # (degraded); with an old schema new code would fail (webapp/readiness.py).
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            pending = pending_migrations()
        except DatabaseError:
            raise ApiError("database_unavailable", "The database cannot be reached.", 503) from None
        if pending:
            raise ApiError(
                "migrations_pending",
                f"The database schema is behind this code: {len(pending)} migration(s) not "
                f"applied ({', '.join(pending[:5])}).",
                503,
            )
        return Response({"status": "ready"})
