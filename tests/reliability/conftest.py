"""Fixtures of the reliability tests: a quick-starting real model service."""

import pytest

from tests.reliability.harness import shared_db, tiny_model_dir
from tests.support.servers import Server, start_server

__all__ = ["shared_db"]

MODEL_VERSION = "tiny-1"


@pytest.fixture(scope="session")
def tiny_modelsvc(tmp_path_factory) -> Server:
    """A real model service (gunicorn, 2 workers) serving a small real pipeline."""
    tmp = tmp_path_factory.mktemp("tiny-modelsvc")
    model_dir = tiny_model_dir(tmp / "model", MODEL_VERSION)
    with start_server("modelsvc", tmp, {"MODEL_DIR": str(model_dir)}, workers=2) as server:
        yield server
