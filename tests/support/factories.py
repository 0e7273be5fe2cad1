"""The base of the model factories in ``tests/webapp/<app>/factories.py``.

Factories name the model as ``"app_label.Model"`` and set fields by name only, so they keep
working when a model's fields move into a shared abstract base.
"""

from typing import Any

import factory.django


class ModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True

    @classmethod
    def create_bulk(cls, size: int, **fields: Any) -> list[Any]:
        """``size`` rows in one INSERT, for tests that need traffic rather than objects.

        Like ``create_batch`` but without a query per row; ``post_generation`` hooks do not
        run, as ``bulk_create`` skips ``save()``."""
        model = cls._meta.get_model_class()
        return model.objects.bulk_create(cls.build_batch(size, **fields))
