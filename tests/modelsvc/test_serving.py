"""The served model's life cycle as tests drive it: override() and what it restores."""

from modelsvc import serving
from modelsvc.artifact import ARTIFACT_NAME
from tests.support.artifacts import write_tiny_artifact


def test_override_serves_a_model_then_restores_what_was_served(tmp_path):
    sha = write_tiny_artifact(tmp_path / ARTIFACT_NAME, "tiny-override")
    model = serving.load_verified(tmp_path / ARTIFACT_NAME, sha)
    before = serving.current_model(), serving.not_ready_reason()
    with serving.override(model):
        assert serving.current_model() is model
        assert serving.not_ready_reason() == ""
        with serving.override(None, error="model artifact is unusable"):
            assert serving.current_model() is None
            assert serving.not_ready_reason() == "model artifact is unusable"
        assert serving.current_model() is model
    assert (serving.current_model(), serving.not_ready_reason()) == before
