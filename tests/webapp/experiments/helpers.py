"""Helpers of the experiments tests."""

from tests.webapp.experiments.factories import ExperimentFactory
from webapp.experiments.models import Experiment
from webapp.experiments.services import bucket

HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
DUMMY_URLS = "tests.webapp.experiments.dummy_urls"


def make_experiment(name: str = "exp-test", *, weight: float = 0.1, **fields) -> Experiment:
    """A running experiment with a salt fixed by its name (see ExperimentFactory)."""
    return ExperimentFactory(name=name, weight=weight, **fields)


def visitor_between(experiment: Experiment, low: float, high: float, prefix: str = "v") -> str:
    """The first visitor id ``prefix-N`` whose hash position lies in [low, high)."""
    for n in range(100_000):
        visitor = f"{prefix}-{n}"
        if low <= bucket(experiment.salt, experiment.phase, visitor) < high:
            return visitor
    raise AssertionError(f"no visitor between {low} and {high}")
