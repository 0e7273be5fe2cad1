"""Writes of the reviews app: classify a review and store the outcome, record feedback."""

import logging
import time
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction

from core import metrics
from core.model_variants import STABLE
from webapp import modelservice
from webapp.experiments.arm import ExperimentArm, served_columns
from webapp.reviews.models import FailedPrediction, Feedback, Prediction

logger = logging.getLogger(__name__)


class FeedbackAlreadyGiven(Exception):
    def __init__(self, feedback: Feedback):
        super().__init__(f"prediction {feedback.prediction_id} already has feedback")
        self.feedback = feedback


def _served_by(
    arm: ExperimentArm | None, model_arm: ExperimentArm | None, model: str, started: float
) -> dict:
    """Which app, model, experiment arms and visitor served a request, and how long it took."""
    return {
        "app_version": settings.APP_VERSION,
        "app_variant": settings.APP_VARIANT,
        **served_columns(arm, model_arm),
        "model_variant": model,
        "latency_ms": (time.perf_counter() - started) * 1000,
    }


def analyze_review(
    review: str,
    *,
    arm: ExperimentArm | None,
    request_id: str,
    model_arm: ExperimentArm | None = None,
) -> Prediction:
    """Ask the model of ``model_arm`` (v1 without one) about ``review`` and store the answer
    under ``arm`` (the request's recorded frontend arm, None outside an experiment) and
    ``model_arm``.

    An answer v1 gave in place of an unavailable v2, and a failure of both, count for no
    model arm: they say nothing about either model. On failure (already counted by the
    client) the review is kept as a FailedPrediction with the reason, and
    :class:`modelservice.ModelServiceError` is raised for the caller to degrade.
    """
    started = time.perf_counter()
    variant = arm.variant if arm else None
    model = model_arm.model if model_arm else STABLE
    try:
        answer = modelservice.analyze(review, request_id=request_id, variant=variant, model=model)
    except modelservice.ModelServiceError as exc:
        logger.warning("model service failed (%s) for request %s: %s", exc.reason, request_id, exc)
        fell_back = isinstance(exc, modelservice.ModelServiceFellBack)
        FailedPrediction.objects.create(
            review=review,
            reason=exc.reason,
            **_served_by(arm, None if fell_back else model_arm, model, started),
        )
        raise
    prediction = Prediction.objects.create(
        review=review,
        sentiment=answer.sentiment,
        confidence=answer.confidence,
        model_version=answer.model_version,
        **_served_by(arm, None if answer.fell_back else model_arm, answer.model_variant, started),
    )
    variant_label = variant or "none"
    metrics.APP_PREDICTIONS.labels(
        settings.APP_VERSION,
        arm.experiment if arm else "none",
        variant_label,
        answer.model_version,
        answer.sentiment,
    ).inc()
    metrics.APP_PREDICTION_SECONDS.labels(settings.APP_VERSION, variant_label).observe(
        time.perf_counter() - started
    )
    return prediction


def record_feedback(prediction_id: uuid.UUID, correct: bool) -> Feedback:
    """Store the user's verdict on a prediction; the first verdict is final.

    Raises Prediction.DoesNotExist for an unknown id and FeedbackAlreadyGiven (carrying
    the stored feedback) when the prediction already has one, even under a race: the
    database's unique constraint decides, inside a savepoint so the transaction survives.
    """
    prediction = Prediction.objects.get(pk=prediction_id)
    try:
        with transaction.atomic():
            feedback = Feedback.objects.create(prediction=prediction, correct=correct)
    except IntegrityError:
        existing = Feedback.objects.filter(prediction_id=prediction_id).first()
        if existing is None:  # the prediction vanished in between
            raise Prediction.DoesNotExist(prediction_id) from None
        raise FeedbackAlreadyGiven(existing) from None
    metrics.APP_FEEDBACK.labels(
        prediction.app_version,
        prediction.experiment or "none",
        prediction.variant or "none",
        str(correct).lower(),
    ).inc()
    return feedback
