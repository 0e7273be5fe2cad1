"""The artifact module: verify, then load (format included), and atomic writes."""

import hashlib
import json
import pickle

import joblib
import pytest

from modelsvc import artifact
from modelsvc.artifact import ArtifactError
from tests.support.artifacts import write_tiny_artifact


def test_a_verified_artifact_loads(tmp_path):
    path = tmp_path / artifact.ARTIFACT_NAME
    sha = write_tiny_artifact(path, "tiny-9")
    loaded = artifact.load_verified(path, sha)
    assert (loaded.version, loaded.sha256, loaded.metrics) == ("tiny-9", sha, {})
    assert loaded.pipeline.predict_proba(["great food"]).shape == (1, 2)


def test_bytes_that_do_not_match_are_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / artifact.ARTIFACT_NAME
    # Unpickling this would create the marker file.
    path.write_bytes(pickle.dumps({"format": 1, "trap": _Trap(str(marker))}))
    with pytest.raises(ArtifactError, match="checksum mismatch") as raised:
        artifact.load_verified(path, "0" * 64)
    assert raised.value.reason == "checksum"
    assert not marker.exists()


class _Trap:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize(
    "content",
    [
        {"format": 2, "version": "v", "pipeline": None, "metrics": {}},
        {"version": "v", "metrics": {}},
        ["not", "a", "dict"],
        {"format": 1, "version": "v", "pipeline": "no predict_proba"},
    ],
)
def test_an_artifact_of_another_format_is_refused(tmp_path, content):
    path = tmp_path / artifact.ARTIFACT_NAME
    joblib.dump(content, path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ArtifactError, match="unusable") as raised:
        artifact.load_verified(path, sha)
    assert raised.value.reason == "invalid"


def test_a_training_folder_is_checked_against_its_manifest(tmp_path):
    sha = write_tiny_artifact(tmp_path / artifact.ARTIFACT_NAME)
    (tmp_path / artifact.MANIFEST_NAME).write_text(json.dumps({"artifact_sha256": sha}))
    assert artifact.load_trained(tmp_path).sha256 == sha
    (tmp_path / artifact.MANIFEST_NAME).write_text(json.dumps({"artifact_sha256": "f" * 64}))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        artifact.load_trained(tmp_path)


def test_an_atomic_write_replaces_the_file_whole_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "manifest.json"
    target.write_bytes(b"old")
    artifact.write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.joblib"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), artifact.atomic_path(target) as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.joblib"]
