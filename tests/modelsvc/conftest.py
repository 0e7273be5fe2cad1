import pytest

from modelsvc import settings as modelsvc_settings


@pytest.fixture(autouse=True)
def modelsvc_config(settings):
    """Model service tests run with the model service's own URLs and middleware."""
    settings.ROOT_URLCONF = modelsvc_settings.ROOT_URLCONF
    settings.MIDDLEWARE = modelsvc_settings.MIDDLEWARE
