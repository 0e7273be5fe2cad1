"""Fixtures of the reviews tests: the real model service, this process's metrics."""

from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY


@pytest.fixture
def real_model(modelsvc_server, settings) -> str:
    """The web app talks to the real model service (gunicorn) serving a trained model."""
    settings.MODEL_SERVICE_URL = modelsvc_server.url
    return modelsvc_server.url


@pytest.fixture
def metric() -> Callable[..., float]:
    """Current value of a sample of this process's Prometheus registry (0 when absent)."""

    def value(name: str, **labels) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    return value
