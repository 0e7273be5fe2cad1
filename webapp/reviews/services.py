"""Writes of the reviews app: classify a review and store the outcome, record feedback."""

import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from core import metrics
from webapp import modelservice
from webapp.reviews.models import FailedPrediction, Feedback, Prediction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assignment:
    """The experiment a visitor is in; all blank when no experiment is running."""

    experiment: str = ""
    variant: str = ""
    visitor_id: str = ""

    @classmethod
    def of(cls, experiment) -> "Assignment":
        """From the experiments middleware's ``request.experiment`` (an object or None)."""
        # During a rollback or promotion only one arm gets traffic: stored under the
        # experiment, those predictions would skew the comparison of A with B.
        if experiment is None or getattr(experiment, "source", "") in ("rollback", "promote"):
            return cls()
        return cls(
            experiment=str(experiment.experiment or ""),
            variant=str(experiment.variant or ""),
            visitor_id=str(experiment.visitor_id or ""),
        )

    @property
    def metric_label(self) -> str:
        return self.variant or "none"

    @property
    def experiment_label(self) -> str:
        return self.experiment or "none"


class FeedbackAlreadyGiven(Exception):
    def __init__(self, feedback: Feedback):
        super().__init__(f"prediction {feedback.prediction_id} already has feedback")
        self.feedback = feedback


def _served_by(assignment: Assignment, started: float) -> dict:
    """Which app, experiment arm and visitor served a request, and how long it took."""
    return {
        "app_version": settings.APP_VERSION,
        "app_variant": settings.APP_VARIANT,
        "experiment": assignment.experiment,
        "variant": assignment.variant,
        "visitor_id": assignment.visitor_id,
        "latency_ms": (time.perf_counter() - started) * 1000,
    }


def analyze_review(review: str, *, assignment: Assignment, request_id: str) -> Prediction:
    """Ask the model service about ``review`` and store the answer.

    On failure (already counted by the client) the review is kept as a FailedPrediction with
    the reason, and :class:`modelservice.ModelServiceError` is raised for the caller to degrade.
    """
    started = time.perf_counter()
    try:
        answer = modelservice.analyze(
            review, request_id=request_id, variant=assignment.variant or None
        )
    except modelservice.ModelServiceError as exc:
        logger.warning("model service failed (%s) for request %s: %s", exc.reason, request_id, exc)
        FailedPrediction.objects.create(
            review=review, reason=exc.reason, **_served_by(assignment, started)
        )
        raise
    prediction = Prediction.objects.create(
        review=review,
        sentiment=answer.sentiment,
        confidence=answer.confidence,
        model_version=answer.model_version,
        **_served_by(assignment, started),
    )
    metrics.APP_PREDICTIONS.labels(
        settings.APP_VERSION,
        assignment.experiment_label,
        assignment.metric_label,
        answer.model_version,
        answer.sentiment,
    ).inc()
    metrics.APP_PREDICTION_SECONDS.labels(settings.APP_VERSION, assignment.metric_label).observe(
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
