"""Canary guards on experiments."""

import factory

from tests.support.factories import ModelFactory
from tests.webapp.experiments.factories import ExperimentFactory


class CanaryGuardFactory(ModelFactory):
    """A guard with the model's default thresholds over a running experiment."""

    class Meta:
        model = "canary.CanaryGuard"

    experiment = factory.SubFactory(ExperimentFactory)
