"""Batch jobs and their rows, as an upload leaves them before the worker runs."""

import factory

from tests.support.factories import ModelFactory


class BatchJobFactory(ModelFactory):
    """A queued job; its rows come from ``BatchRowFactory(job=...)``."""

    class Meta:
        model = "batch.BatchJob"

    filename = "reviews.csv"
    total_rows = 1


class BatchRowFactory(ModelFactory):
    """A row not yet classified (set ``sentiment`` and ``confidence`` for a done one)."""

    class Meta:
        model = "batch.BatchRow"

    job = factory.SubFactory(BatchJobFactory)
    row = factory.Sequence(lambda n: n + 1)
    review = factory.Sequence(lambda n: f"Review number {n}: crisp fries.")
