"""Predictions, feedback and failed predictions as the web app stores them."""

import factory
from django.conf import settings

from tests.support.factories import ModelFactory


def _app_variant(served: object) -> str:
    # Variant B of an experiment is served by the canary deployment (v2), all else by v1.
    return "v2" if getattr(served, "variant", "") == "B" else "v1"


class ServedRequestFactory(ModelFactory):
    """The columns every served request has, answered or not: which app, which experiment
    arm, which visitor, how long it took."""

    class Meta:
        abstract = True

    app_version = factory.LazyFunction(lambda: settings.APP_VERSION)
    app_variant = factory.LazyAttribute(_app_variant)
    experiment = ""
    variant = ""
    visitor_id = ""
    latency_ms = 3.0


class PredictionFactory(ServedRequestFactory):
    """A stored prediction; ``feedback=True`` or ``False`` also records the user's verdict."""

    class Meta:
        model = "reviews.Prediction"
        skip_postgeneration_save = True  # the hook adds a Feedback row, not a field

    review = factory.Sequence(lambda n: f"Review number {n}: lovely soup.")
    sentiment = "positive"
    confidence = 0.9
    model_version = "m-1"

    @factory.post_generation
    def feedback(obj, create: bool, correct: bool | None, **_: object) -> None:
        if create and correct is not None:
            FeedbackFactory(prediction=obj, correct=correct)


class FeedbackFactory(ModelFactory):
    class Meta:
        model = "reviews.Feedback"

    prediction = factory.SubFactory(PredictionFactory)
    correct = True


class FailedPredictionFactory(ServedRequestFactory):
    """A request the model service did not answer (a timeout unless ``reason`` says else)."""

    class Meta:
        model = "reviews.FailedPrediction"

    review = factory.Sequence(lambda n: f"Review number {n}: never answered.")
    reason = "timeout"
    latency_ms = 5000.0
