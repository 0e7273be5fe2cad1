"""Experiments with made-up traffic for the canary guard tests."""

import itertools

import factory

from tests.webapp.reviews.factories import (
    FailedPredictionFactory,
    FeedbackFactory,
    PredictionFactory,
)
from webapp.experiments import services as experiments
from webapp.experiments.models import Experiment, Kind
from webapp.reviews.models import Feedback

_visitors = itertools.count()


def running_experiment(name: str, **fields) -> Experiment:
    experiment = experiments.create_experiment(
        Experiment(name=name, weight=0.5, **fields), actor="test"
    )
    return experiments.start_experiment(experiment, actor="test")


def running_model_experiment(name: str) -> Experiment:
    return running_experiment(name, kind=Kind.MODEL, candidate_model="v2")


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
    """Predictions (the first ``correct`` + ``wrong`` with feedback) and failures, in the
    columns of the experiment's kind."""
    if experiment.kind == Kind.MODEL:
        arm = {
            "model_experiment": experiment.name,
            "model_arm": variant,
            "model_variant": experiment.model_of(variant),
        }
    else:
        arm = {"experiment": experiment.name, "variant": variant}
    common = {
        **arm,
        "visitor_id": factory.LazyFunction(lambda: f"visitor-{next(_visitors)}"),
        "latency_ms": latency_ms,
    }
    predictions = PredictionFactory.create_bulk(answered, **common)
    answers = [True] * correct + [False] * wrong
    Feedback.objects.bulk_create(
        FeedbackFactory.build(prediction=prediction, correct=answer)
        for prediction, answer in zip(predictions, answers, strict=False)
    )
    FailedPredictionFactory.create_bulk(failed, reason="unavailable", **common)


def served(experiment: Experiment, a: dict, b: dict) -> Experiment:
    """``traffic`` for arm A and arm B of ``experiment``, each with its own keywords."""
    traffic(experiment, "A", **a)
    traffic(experiment, "B", **b)
    return experiment
