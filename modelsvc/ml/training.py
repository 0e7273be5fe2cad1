"""Training and evaluation of the sentiment model, and the artifact files they exchange.

``train`` writes three files into its output folder:

- ``model.joblib``: ``{"format": 1, "version", "pipeline", "metrics"}``; the pipeline takes raw
  review text (preprocessing is its first step);
- ``metrics.json``: held-out metrics, cross-validated accuracy, split sizes;
- ``manifest.json``: version, artifact and data checksums, seed, creation time, library versions.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from threadpoolctl import threadpool_limits

from modelsvc.ml.dataset import DatasetError, load_labelled_tsv
from modelsvc.ml.pipeline import build_pipeline

ARTIFACT_NAME = "model.joblib"
METRICS_NAME = "metrics.json"
MANIFEST_NAME = "manifest.json"
ARTIFACT_FORMAT = 1
TEST_SIZE = 0.2
CV_FOLDS = 5
_LIBRARIES = ("scikit-learn", "joblib", "numpy", "scipy", "vaderSentiment")


def train(
    data_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 42,
    version: str | None = None,
) -> dict[str, Any]:
    """Train on a labelled TSV and write the artifact files; returns the metrics.

    The persisted model is the one fitted on the training split, so the held-out metrics
    describe exactly the model that ships. ``cv_accuracy`` is 5-fold cross-validation of a fresh
    pipeline over the whole file, a steadier estimate than one 20% split.
    """
    dataset = load_labelled_tsv(data_path)
    _check_trainable(dataset.labels, data_path)
    version = version or f"1.0.0+{dataset.sha256[:8]}"
    x_train, x_test, y_train, y_test = train_test_split(
        dataset.texts,
        dataset.labels,
        test_size=TEST_SIZE,
        stratify=dataset.labels,
        random_state=seed,
    )
    # BLAS threads buy nothing on a problem this small and, on a busy machine, make fitting
    # several times slower by contending for cores.
    with threadpool_limits(limits=1):
        pipeline = build_pipeline(seed).fit(x_train, y_train)
        folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed)
        cv_scores = cross_val_score(
            build_pipeline(seed), dataset.texts, dataset.labels, cv=folds, scoring="accuracy"
        )
        held_out = _scores(y_test, pipeline.predict(x_test).tolist())
    metrics: dict[str, Any] = {
        **held_out,
        "cv_accuracy": float(cv_scores.mean()),
        "cv_accuracy_std": float(cv_scores.std()),
        "n_train": len(x_train),
        "n_test": len(x_test),
    }

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    artifact = {
        "format": ARTIFACT_FORMAT,
        "version": version,
        "pipeline": pipeline,
        "metrics": metrics,
    }
    artifact_tmp = _temp_path(out, ARTIFACT_NAME)
    try:
        joblib.dump(artifact, artifact_tmp)
        artifact_sha256 = hashlib.sha256(artifact_tmp.read_bytes()).hexdigest()
        manifest = {
            "version": version,
            "artifact": ARTIFACT_NAME,
            "artifact_sha256": artifact_sha256,
            "data_sha256": dataset.sha256,
            "data_rows": len(dataset.texts),
            "seed": seed,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "libraries": _library_versions(),
        }
        _write_atomic(out / METRICS_NAME, _json_bytes(metrics))
        _write_atomic(out / MANIFEST_NAME, _json_bytes(manifest))
        # The artifact goes in last: its presence is what tells the service a model exists, and
        # by then the manifest carrying its checksum is already in place.
        os.replace(artifact_tmp, out / ARTIFACT_NAME)
    finally:
        artifact_tmp.unlink(missing_ok=True)
    return metrics


def evaluate(
    model_dir: str | os.PathLike[str], data_path: str | os.PathLike[str]
) -> dict[str, Any]:
    """Score a trained model (``model_dir/model.joblib``) on a labelled TSV."""
    artifact = load_artifact(model_dir)
    dataset = load_labelled_tsv(data_path)
    predicted = artifact["pipeline"].predict(dataset.texts).tolist()
    return {
        **_scores(dataset.labels, predicted),
        "n": len(dataset.texts),
        "version": artifact["version"],
    }


def load_artifact(model_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Load ``model.joblib``, checking it against ``manifest.json`` when there is one.

    Unpickling runs code, so the bytes are verified before they are loaded.
    """
    folder = Path(model_dir)
    data = (folder / ARTIFACT_NAME).read_bytes()
    manifest_path = folder / MANIFEST_NAME
    if manifest_path.exists():
        expected = json.loads(manifest_path.read_text(encoding="utf-8"))["artifact_sha256"]
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ValueError(
                f"{folder / ARTIFACT_NAME}: checksum {actual} does not match the manifest's "
                f"{expected}"
            )
    artifact = joblib.load(io.BytesIO(data))
    if not isinstance(artifact, dict) or artifact.get("format") != ARTIFACT_FORMAT:
        raise ValueError(f"{folder / ARTIFACT_NAME}: not a format-{ARTIFACT_FORMAT} artifact")
    return artifact


def _check_trainable(labels: Sequence[int], data_path: str | os.PathLike[str]) -> None:
    # Both the stratified split and 5-fold CV need every class in every fold.
    n_negative, n_positive = labels.count(0), labels.count(1)
    if min(n_negative, n_positive) < CV_FOLDS:
        raise DatasetError(
            f"{os.fspath(data_path)}: training needs at least {CV_FOLDS} reviews of each label, "
            f"found {n_negative} negative and {n_positive} positive"
        )


def _scores(truth: Sequence[int], predicted: Sequence[int]) -> dict[str, Any]:
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth, predicted, average="binary", pos_label=1, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        # rows: true negative, true positive; columns: predicted negative, predicted positive
        "confusion_matrix": confusion_matrix(truth, predicted, labels=[0, 1]).tolist(),
    }


def _library_versions() -> dict[str, str]:
    return {"python": platform.python_version()} | {
        name: metadata.version(name) for name in _LIBRARIES
    }


def _json_bytes(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _temp_path(folder: Path, name: str) -> Path:
    # In the destination folder, so that os.replace is a same-filesystem atomic rename.
    handle, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    os.close(handle)
    # mkstemp makes the file private (0600); the service may run as another user.
    os.chmod(path, 0o644)
    return Path(path)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = _temp_path(path.parent, path.name)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
