"""The model service's own middleware stack for these tests, not the web app's that
tests/settings.py carries: the OIP endpoints are measured and served through it."""

import pytest

import modelsvc.settings as modelsvc_settings


@pytest.fixture(autouse=True)
def _modelsvc_middleware(settings):
    settings.MIDDLEWARE = list(modelsvc_settings.MIDDLEWARE)
