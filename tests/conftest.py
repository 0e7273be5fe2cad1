"""Fixtures shared by the whole suite: a trained model, real servers, a live database."""

from pathlib import Path

import pytest

from tests.support.browser import Browser
from tests.support.servers import CORPUS, Server, server_database_url, start_server


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A model trained from the shipped corpus, once per test session."""
    from modelsvc.ml.training import train

    out = tmp_path_factory.mktemp("model")
    train(CORPUS, out)
    return out


@pytest.fixture
def loaded_model(model_dir):
    """The trained model installed in this process's model service."""
    from modelsvc import serving
    from modelsvc.artifact import ARTIFACT_NAME, manifest_checksum

    model = serving.load_verified(model_dir / ARTIFACT_NAME, manifest_checksum(model_dir))
    with serving.override(model):
        yield model


@pytest.fixture(scope="session")
def modelsvc_server(model_dir, tmp_path_factory) -> Server:
    """A real model service (gunicorn, 2 workers) serving the trained model."""
    server = start_server(
        "modelsvc", tmp_path_factory.mktemp("modelsvc"), {"MODEL_DIR": str(model_dir)}, workers=2
    )
    yield server
    server.stop()


@pytest.fixture
def live_database_url(transactional_db) -> str:
    """A DATABASE_URL for subprocess servers that points at this test's database."""
    return server_database_url()


@pytest.fixture(scope="module")
def module_database_url(django_db_setup) -> str:
    """The test database's URL for servers that live as long as a module (their tests are
    marked transactional, so what they write is committed and the servers see it)."""
    return server_database_url()


@pytest.fixture(scope="module")
def chromium() -> Browser:
    """A real headless browser (Debian chromium) for a module's end-to-end tests."""
    browser = Browser()
    yield browser
    browser.close()
