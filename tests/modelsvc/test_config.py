"""Model service configuration: which pipeline an empty model folder is trained with."""

from modelsvc.config import DEFAULT_PIPELINES, load_config
from modelsvc.ml.pipelines import PIPELINES


def test_each_variant_trains_a_known_pipeline_and_v1_is_lexical(monkeypatch):
    monkeypatch.delenv("MODEL_PIPELINE", raising=False)
    assert set(DEFAULT_PIPELINES.values()) <= set(PIPELINES)
    assert DEFAULT_PIPELINES == {"v1": "lexical", "v2": "embed"}
    assert load_config().pipeline == "lexical"  # this test process is v1, the default


def test_model_pipeline_overrides_the_variant_default(monkeypatch):
    monkeypatch.setenv("MODEL_PIPELINE", "embed")
    assert load_config().pipeline == "embed"
