"""The embed pipeline: trained from a corpus subset, persisted with its encoder file, loaded
only through the checksums, refused when either file was changed."""

import json
from pathlib import Path

import numpy as np
import pytest

from modelsvc import artifact, serving
from modelsvc.artifact import ArtifactError
from modelsvc.config import ModelConfig
from modelsvc.ml.embed import ENCODER_NAME


def _copy(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    copy.mkdir()
    for item in folder.iterdir():
        (copy / item.name).write_bytes(item.read_bytes())
    return copy


def test_the_embed_artifact_round_trips_and_predicts_sensibly(embed_dir):
    manifest = json.loads((embed_dir / artifact.MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["pipeline"] == "embed"
    assert set(manifest["files"]) == {ENCODER_NAME}
    assert manifest["version"].startswith("2.0.0+")
    # The pickle stays small: the encoder graph is its own file.
    assert (embed_dir / artifact.ARTIFACT_NAME).stat().st_size < 5_000_000
    assert (embed_dir / ENCODER_NAME).stat().st_size > 10_000_000

    loaded = artifact.load_trained(embed_dir)
    assert loaded.sha256 == manifest["artifact_sha256"]
    assert loaded.metrics["cv_accuracy"] > 0.75  # far above chance (0.5)
    reviews = [
        "The food was absolutely wonderful and the staff were so friendly.",
        "Cold, bland and overpriced. We will not be back.",
        "Best pho in town, I loved every bite!",
        "The waiter ignored us for forty minutes and the soup was stale.",
    ]
    assert loaded.pipeline.predict(reviews).tolist() == [1, 0, 1, 0]


def test_a_review_scores_the_same_alone_and_in_a_batch(embed_dir):
    pipeline = artifact.load_trained(embed_dir).pipeline
    reviews = ["Great tacos.", "The service was slow and the room was far too loud tonight."]
    batch = pipeline.predict_proba(reviews)
    alone = np.vstack([pipeline.predict_proba([review]) for review in reviews])
    np.testing.assert_allclose(batch, alone, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", [artifact.ARTIFACT_NAME, ENCODER_NAME])
def test_a_tampered_file_is_refused(embed_dir, tmp_path, name):
    folder = _copy(embed_dir, tmp_path)
    data = bytearray((folder / name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / name).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum mismatch") as raised:
        artifact.load_trained(folder)
    assert raised.value.reason == "checksum"


def test_a_missing_encoder_is_refused(embed_dir, tmp_path):
    folder = _copy(embed_dir, tmp_path)
    (folder / ENCODER_NAME).unlink()
    with pytest.raises(ArtifactError, match=ENCODER_NAME) as raised:
        artifact.load_trained(folder)
    assert raised.value.reason == "missing"


def test_the_service_serves_the_embed_model_and_stays_not_ready_on_a_tampered_encoder(
    embed_dir, tmp_path
):
    with serving.override(None):
        model = serving.load(ModelConfig(local_dir=embed_dir))
        assert model is not None
        (prediction,) = model.predict(["Lovely place, friendly staff."], "test")
        assert prediction.sentiment == "positive"

    folder = _copy(embed_dir, tmp_path)
    (folder / ENCODER_NAME).write_bytes(b"not the encoder")
    with serving.override(None):
        assert serving.load(ModelConfig(local_dir=folder)) is None
        assert ENCODER_NAME in serving.not_ready_reason()
        assert "checksum mismatch" in serving.not_ready_reason()
