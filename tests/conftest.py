"""Fixtures shared by the whole suite: a trained model, real servers, a live database."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
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


# The first 300 reviews of the corpus (its labels alternate, so both are there): plenty for
# 5-fold CV at a third of the corpus's cost.
SUBSET_ROWS = 300


@pytest.fixture(scope="session")
def embed_dir(tmp_path_factory) -> Path:
    """A model of the embed pipeline (v2), trained once per session on part of the corpus."""
    from modelsvc.ml.training import train

    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    data = tmp_path_factory.mktemp("embed-data") / "subset.tsv"
    data.write_text("\n".join([lines[0], *lines[1 : 1 + SUBSET_ROWS]]) + "\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("embed-model")
    train(data, out, pipeline_name="embed")
    return out


@pytest.fixture(scope="session")
def model_v2_server(embed_dir, tmp_path_factory) -> Server:
    """A real model service started as model v2 on the embed model."""
    with start_server(
        "modelsvc",
        tmp_path_factory.mktemp("modelsvc-v2"),
        {"MODEL_VARIANT": "v2", "MODEL_DIR": str(embed_dir)},
    ) as server:
        yield server


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
    with start_server(
        "modelsvc", tmp_path_factory.mktemp("modelsvc"), {"MODEL_DIR": str(model_dir)}, workers=2
    ) as server:
        yield server


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
def module_webapp(module_database_url, tmp_path_factory) -> Iterator[Callable[..., Server]]:
    """Starts web apps (gunicorn) on the module's test database, each with its ``env`` on top
    and ``start_server``'s options; all of them stop after the module."""
    with ExitStack() as started:

        def start(name: str, env: dict[str, str], **options) -> Server:
            env = {"DATABASE_URL": module_database_url, **env}
            folder = tmp_path_factory.mktemp(name)
            return started.enter_context(start_server("webapp", folder, env, **options))

        yield start


@pytest.fixture(scope="module")
def chromium() -> Browser:
    """A real headless browser (Debian chromium) for a module's end-to-end tests."""
    browser = Browser()
    yield browser
    browser.close()
