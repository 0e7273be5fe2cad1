"""Helpers of the experiments tests."""

from django.utils import timezone

from webapp.experiments.models import Experiment, Status
from webapp.experiments.services import bucket

HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
DUMMY_URLS = "tests.webapp.experiments.dummy_urls"


def make_experiment(name: str = "exp-test", *, weight: float = 0.1, **fields) -> Experiment:
    """A running experiment with a fixed salt, so which visitor gets which variant is known."""
    now = timezone.now()
    values = {
        "status": Status.RUNNING,
        "weight": weight,
        "salt": f"salt-of-{name}",
        "started_at": now,
        "phase_started_at": now,
        **fields,
    }
    return Experiment.objects.create(name=name, **values)


def visitor_between(experiment: Experiment, low: float, high: float, prefix: str = "v") -> str:
    """The first visitor id ``prefix-N`` whose hash position lies in [low, high)."""
    for n in range(100_000):
        visitor = f"{prefix}-{n}"
        if low <= bucket(experiment.salt, experiment.phase, visitor) < high:
            return visitor
    raise AssertionError(f"no visitor between {low} and {high}")
