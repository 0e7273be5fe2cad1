"""The embed pipeline: trained from a corpus subset, persisted as one artifact that carries its
encoder, loaded only through the checksums, delivered through MODEL_URL like v1."""

import functools
import io
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import joblib
import numpy as np
import pytest

from modelsvc import artifact, serving
from modelsvc.artifact import ArtifactError
from modelsvc.config import ModelConfig


def _copy(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    copy.mkdir()
    for item in folder.iterdir():
        (copy / item.name).write_bytes(item.read_bytes())
    return copy


def test_the_embed_artifact_round_trips_and_predicts_sensibly(embed_dir):
    manifest = json.loads((embed_dir / artifact.MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["pipeline"] == "embed"
    assert manifest["version"].startswith("2.0.0+")
    # One artifact, as for v1: the int8 encoder graph (over 10 MB) travels inside it.
    assert {item.name for item in embed_dir.iterdir()} == {
        artifact.ARTIFACT_NAME,
        artifact.MANIFEST_NAME,
        artifact.METRICS_NAME,
    }
    assert (embed_dir / artifact.ARTIFACT_NAME).stat().st_size > 10_000_000

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


def test_a_tampered_artifact_is_refused(embed_dir, tmp_path):
    folder = _copy(embed_dir, tmp_path)
    data = bytearray((folder / artifact.ARTIFACT_NAME).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / artifact.ARTIFACT_NAME).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum mismatch") as raised:
        artifact.load_trained(folder)
    assert raised.value.reason == "checksum"


def test_an_encoder_graph_unlike_the_one_it_was_trained_with_is_never_parsed(embed_dir):
    """Defence in depth behind the artifact's own checksum: the graph inside the pickle must
    have the SHA-256 the encoder recorded at training time."""
    content = joblib.load(embed_dir / artifact.ARTIFACT_NAME)
    encoder = content["pipeline"].named_steps["features"].encoder
    state = {
        "sha256": encoder.sha256,
        "tokenizer_json": encoder.tokenizer_json,
        "max_tokens": encoder.max_tokens,
        "graph": b"not the encoder",
    }
    with pytest.raises(ValueError, match="encoder graph checksum mismatch"):
        type(encoder).__new__(type(encoder)).__setstate__(state)
    # Served, not pickled again: a loaded encoder keeps no second copy of its graph.
    with pytest.raises(TypeError, match="not pickled again"):
        joblib.dump(encoder, io.BytesIO())


@pytest.fixture
def release(embed_dir):
    """The embed model's folder on a real local HTTP server, as a release serves its assets."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(embed_dir))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_model_v2_downloads_through_model_url_like_v1(embed_dir, release, tmp_path):
    sha256 = artifact.manifest_checksum(embed_dir)
    config = ModelConfig(
        url=f"{release}/{artifact.ARTIFACT_NAME}",
        sha256=sha256,
        cache_dir=tmp_path / "cache",
        allowed_hosts=("127.0.0.1",),
        local_dir=tmp_path / "unused",
        pipeline="embed",
    )
    with serving.override(None):
        model = serving.load(config)
        assert model is not None, serving.not_ready_reason()
        assert model.sha256 == sha256
        (prediction,) = model.predict(["Lovely place, friendly staff."], "test")
        assert prediction.sentiment == "positive"
    # Nothing was trained into the local folder: the download alone made the model.
    assert not (tmp_path / "unused").exists()


def test_the_service_serves_the_embed_model_and_stays_not_ready_on_a_tampered_one(
    embed_dir, tmp_path
):
    with serving.override(None):
        model = serving.load(ModelConfig(local_dir=embed_dir))
        assert model is not None
        (prediction,) = model.predict(["Lovely place, friendly staff."], "test")
        assert prediction.sentiment == "positive"

    folder = _copy(embed_dir, tmp_path)
    data = bytearray((folder / artifact.ARTIFACT_NAME).read_bytes())
    data[-100] ^= 0xFF
    (folder / artifact.ARTIFACT_NAME).write_bytes(bytes(data))
    with serving.override(None):
        assert serving.load(ModelConfig(local_dir=folder)) is None
        assert "checksum mismatch" in serving.not_ready_reason()
