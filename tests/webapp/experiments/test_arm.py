"""The request's experiment arm, and what of it is recorded with an outcome."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from webapp.experiments import outcomes
from webapp.experiments.arm import ExperimentArm, arm_of, recorded_arm, served_columns
from webapp.experiments.models import Source
from webapp.reviews.models import FailedPrediction, Prediction


def arm(source: str) -> ExperimentArm:
    return ExperimentArm(experiment="e", variant="B", visitor_id="v-1", phase=2, source=source)


@pytest.mark.parametrize("source", [Source.HASH, Source.CLIENT])
def test_an_arm_of_a_running_experiment_is_recorded(source):
    request = RequestFactory().get("/")
    request.experiment = arm(source)
    assert arm_of(request) == recorded_arm(request) == arm(source)
    assert served_columns(recorded_arm(request)) == {
        "experiment": "e",
        "variant": "B",
        "visitor_id": "v-1",
        "model_experiment": "",
        "model_arm": "",
    }


@pytest.mark.parametrize("source", [Source.ROLLBACK, Source.PROMOTE])
def test_everyone_in_one_variant_is_no_evidence_about_the_other(source):
    request = RequestFactory().get("/")
    request.experiment = arm(source)
    assert arm_of(request) == arm(source)
    assert recorded_arm(request) is None
    assert served_columns(None) == BLANK


BLANK = {"experiment": "", "variant": "", "visitor_id": "", "model_experiment": "", "model_arm": ""}


def test_a_model_arm_is_recorded_beside_the_frontend_arm_with_the_same_visitor():
    model = ExperimentArm(
        experiment="m", variant="A", visitor_id="v-1", phase=1, source=Source.HASH
    )
    assert served_columns(None, model) == {
        **BLANK,
        "visitor_id": "v-1",
        "model_experiment": "m",
        "model_arm": "A",
    }
    rolled_back = ExperimentArm(
        experiment="m", variant="A", visitor_id="v-1", phase=1, source=Source.ROLLBACK
    )
    assert served_columns(None, rolled_back) == BLANK


def test_a_request_the_middleware_never_saw_has_no_arm():
    assert arm_of(RequestFactory().get("/")) is None
    assert recorded_arm(RequestFactory().get("/")) is None


def test_the_reviews_app_registers_where_outcomes_are_stored():
    stored = outcomes.registered()
    assert (stored.answered, stored.failed) == (Prediction, FailedPrediction)
    outcomes.register(stored)  # again: harmless
    other = outcomes.Outcomes(answered=FailedPrediction, failed=Prediction, verdict="x")
    with pytest.raises(ImproperlyConfigured, match="already stored in Prediction"):
        outcomes.register(other)
    assert outcomes.registered() == stored
