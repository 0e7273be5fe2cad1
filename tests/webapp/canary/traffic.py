"""Experiments with made-up traffic for the canary guard tests."""

import itertools

from webapp.experiments import services as experiments
from webapp.experiments.models import Experiment
from webapp.reviews.models import FailedPrediction, Feedback, Prediction

_visitors = itertools.count()


def running_experiment(name: str) -> Experiment:
    experiment = experiments.create_experiment(Experiment(name=name, weight=0.5), actor="test")
    return experiments.start_experiment(experiment, actor="test")


def traffic(
    experiment: Experiment,
    variant: str,
    *,
    answered: int,
    failed: int = 0,
    latency_ms: float = 20.0,
    correct: int = 0,
    wrong: int = 0,
) -> None:
    """Predictions (the first ``correct`` + ``wrong`` with feedback) and failures."""
    app_variant = "v1" if variant == "A" else "v2"
    common = {
        "experiment": experiment.name,
        "variant": variant,
        "app_version": "test",
        "app_variant": app_variant,
        "latency_ms": latency_ms,
    }
    predictions = Prediction.objects.bulk_create(
        Prediction(
            review=f"review {n}",
            sentiment="positive",
            confidence=0.9,
            model_version="m1",
            visitor_id=f"visitor-{next(_visitors)}",
            **common,
        )
        for n in range(answered)
    )
    answers = [True] * correct + [False] * wrong
    Feedback.objects.bulk_create(
        Feedback(prediction=prediction, correct=answer)
        for prediction, answer in zip(predictions, answers, strict=False)
    )
    FailedPrediction.objects.bulk_create(
        FailedPrediction(
            review=f"failed {n}",
            reason="unavailable",
            visitor_id=f"visitor-{next(_visitors)}",
            **common,
        )
        for n in range(failed)
    )
