from pathlib import Path

import pytest

from modelsvc import settings as modelsvc_settings
from modelsvc.config import CORPUS_PATH

# The first 300 reviews of the corpus (its labels alternate, so both are there): plenty for
# 5-fold CV at a third of the corpus's cost.
SUBSET_ROWS = 300


@pytest.fixture(scope="session")
def embed_dir(tmp_path_factory) -> Path:
    """A model of the embed pipeline (v2), trained once per session on part of the corpus."""
    from modelsvc.ml.training import train

    lines = CORPUS_PATH.read_text(encoding="utf-8").splitlines()
    data = tmp_path_factory.mktemp("embed-data") / "subset.tsv"
    data.write_text("\n".join([lines[0], *lines[1 : 1 + SUBSET_ROWS]]) + "\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("embed-model")
    train(data, out, pipeline_name="embed")
    return out


@pytest.fixture(autouse=True)
def modelsvc_config(settings):
    """Model service tests run with the model service's own URLs and middleware."""
    settings.ROOT_URLCONF = modelsvc_settings.ROOT_URLCONF
    settings.MIDDLEWARE = modelsvc_settings.MIDDLEWARE
