import pytest

from devtools.data import A1
from modelsvc.ml.training import train


@pytest.fixture(scope="session")
def a1_model_dir(tmp_path_factory):
    """A model trained on the public a1 data set, once per session."""
    out = tmp_path_factory.mktemp("a1-model")
    train(A1, out)
    return out
