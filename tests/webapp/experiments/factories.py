"""Experiments and visitors' assignments to their variants."""

import factory
from django.utils import timezone

from tests.support.factories import ModelFactory


class ExperimentFactory(ModelFactory):
    """A running experiment with a salt fixed by its name, so which visitor lands in which
    variant is known in advance (see ``helpers.visitor_between``)."""

    class Meta:
        model = "experiments.Experiment"

    name = factory.Sequence(lambda n: f"exp-{n}")
    status = "running"
    weight = 0.1
    salt = factory.LazyAttribute(lambda o: f"salt-of-{o.name}")
    started_at = factory.LazyFunction(timezone.now)
    phase_started_at = factory.LazyAttribute(lambda o: o.started_at)


class AssignmentFactory(ModelFactory):
    """A visitor hashed into a variant at the experiment's current phase and weight."""

    class Meta:
        model = "experiments.Assignment"

    experiment = factory.SubFactory(ExperimentFactory)
    phase = factory.LazyAttribute(lambda o: o.experiment.phase)
    visitor_id = factory.Sequence(lambda n: f"visitor-{n}")
    variant = "A"
    source = "hash"
    # Only hashing draws at a weight; client-chosen, rollback and promotion record none.
    weight = factory.LazyAttribute(lambda o: o.experiment.weight if o.source == "hash" else None)
