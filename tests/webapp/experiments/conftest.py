"""Fixtures of the experiments tests."""

import pytest

from tests.webapp.experiments.helpers import make_experiment
from webapp.experiments.models import Experiment


@pytest.fixture
def experiment(db) -> Experiment:
    """A running experiment steering routing (taking over from the one the install made)."""
    Experiment.objects.filter(steers_routing=True).update(steers_routing=False)
    return make_experiment(steers_routing=True)
