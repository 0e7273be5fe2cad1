"""The model factories make rows the models accept, so tests built on them start valid."""

import pytest

from tests.webapp.batch.factories import BatchJobFactory, BatchRowFactory
from tests.webapp.canary.factories import CanaryGuardFactory
from tests.webapp.experiments.factories import AssignmentFactory, ExperimentFactory
from tests.webapp.reviews.factories import (
    FailedPredictionFactory,
    FeedbackFactory,
    PredictionFactory,
)
from webapp.reviews.models import Feedback, Prediction

pytestmark = pytest.mark.django_db

FACTORIES = [
    PredictionFactory,
    FeedbackFactory,
    FailedPredictionFactory,
    ExperimentFactory,
    AssignmentFactory,
    BatchJobFactory,
    BatchRowFactory,
    CanaryGuardFactory,
]


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_every_factory_makes_a_valid_row(factory):
    row = factory()
    row.full_clean()
    assert type(row).objects.filter(pk=row.pk).exists()


def test_feedback_is_recorded_only_when_given():
    wrong = PredictionFactory(feedback=False)
    silent = PredictionFactory()
    assert Feedback.objects.get(prediction=wrong).correct is False
    assert not Feedback.objects.filter(prediction=silent).exists()


def test_variant_b_is_served_by_the_canary_app():
    assert PredictionFactory(variant="B").app_variant == "v2"
    assert FailedPredictionFactory(variant="A").app_variant == "v1"
    assert PredictionFactory(variant="B", app_variant="v1").app_variant == "v1"


def test_create_bulk_inserts_in_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = PredictionFactory.create_bulk(25, latency_ms=7.0)
    assert len(rows) == 25
    assert Prediction.objects.filter(latency_ms=7.0).count() == 25
