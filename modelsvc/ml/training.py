"""Training and evaluation of the sentiment model (the artifact format is modelsvc/artifact.py).

``train`` writes three files into its output folder:

- ``model.joblib``: ``{"format": 1, "version", "pipeline", "metrics", "profile"}``; the pipeline
  takes raw review text (preprocessing is its first step);
- ``metrics.json``: held-out metrics, cross-validated accuracy, split sizes;
- ``manifest.json``: version, artifact and data checksums (each source file's), the held-out
  split (its reviews' hashes), the drift reference profile, seed, creation time, library versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from threadpoolctl import threadpool_limits

from modelsvc import drift
from modelsvc.artifact import (
    ARTIFACT_FORMAT,
    ARTIFACT_NAME,
    MANIFEST_NAME,
    METRICS_NAME,
    atomic_path,
    load_trained,
    write_atomic,
)
from modelsvc.ml.dataset import DatasetError, load_labelled_tsv
from modelsvc.ml.pipelines import DEFAULT_PIPELINE, recipe
from modelsvc.ml.sources import display_path, load_sources, text_hash

TEST_SIZE = 0.2
CV_FOLDS = 5
_LIBRARIES = ("scikit-learn", "joblib", "numpy", "scipy", "vaderSentiment")


DataPaths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def train(
    data_path: DataPaths,
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 42,
    version: str | None = None,
    pipeline_name: str = DEFAULT_PIPELINE,
) -> dict[str, Any]:
    """Train on one or several labelled TSVs and write the artifact files; returns the metrics.

    Several files are merged and de-duplicated (modelsvc/ml/sources.py). The manifest records
    each file's checksum, the held-out reviews' hashes and the drift reference profile.

    The persisted model is the one fitted on the training split, so the held-out metrics
    describe exactly the model that ships. ``cv_accuracy`` is 5-fold cross-validation of a fresh
    pipeline over the whole file, a steadier estimate than one 20% split.
    """
    paths = [data_path] if isinstance(data_path, str | os.PathLike) else list(data_path)
    dataset = load_sources(paths)
    _check_trainable(dataset.labels, ", ".join(str(os.fspath(p)) for p in paths))
    chosen = recipe(pipeline_name)
    version = version or f"{chosen.version_major}+{dataset.sha256[:8]}"
    x_train, x_test, y_train, y_test = train_test_split(
        dataset.texts,
        dataset.labels,
        test_size=TEST_SIZE,
        stratify=dataset.labels,
        random_state=seed,
    )
    # BLAS threads buy nothing on a problem this small and, on a busy machine, make fitting
    # several times slower by contending for cores.
    with threadpool_limits(limits=1), chosen.training():
        pipeline = chosen.build(seed).fit(x_train, y_train)
        folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed)
        cv_scores = cross_val_score(
            chosen.build(seed), dataset.texts, dataset.labels, cv=folds, scoring="accuracy"
        )
        held_out = scores(y_test, pipeline.predict(x_test).tolist())
        profile = drift.reference_profile(x_train, x_test, pipeline.predict_proba(x_test)[:, 1])
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
        "profile": profile,
    }
    # The artifact goes in last, when the block ends: its presence is what tells the service
    # a model exists, and by then the manifest carrying its checksum is already in place.
    with atomic_path(out / ARTIFACT_NAME) as artifact_tmp:
        joblib.dump(artifact, artifact_tmp)
        artifact_sha256 = hashlib.sha256(artifact_tmp.read_bytes()).hexdigest()
        manifest = {
            "version": version,
            "artifact": ARTIFACT_NAME,
            "artifact_sha256": artifact_sha256,
            "data_sha256": dataset.sha256,
            "data_rows": len(dataset.texts),
            "data_duplicates": dataset.duplicates,
            "sources": [
                {"path": display_path(s.path), "sha256": s.sha256, "rows": s.rows}
                for s in dataset.sources
            ],
            "held_out": {"size": len(x_test), "text_sha256": sorted(map(text_hash, x_test))},
            "drift_profile": drift.summary(profile),
            "seed": seed,
            "pipeline": chosen.name,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "libraries": library_versions(chosen.libraries),
        }
        write_atomic(out / METRICS_NAME, _json_bytes(metrics))
        write_atomic(out / MANIFEST_NAME, _json_bytes(manifest))
    return metrics


def evaluate(
    model_dir: str | os.PathLike[str], data_path: str | os.PathLike[str]
) -> dict[str, Any]:
    """Score a trained model (``model_dir/model.joblib``) on a labelled TSV."""
    artifact = load_trained(model_dir)
    dataset = load_labelled_tsv(data_path)
    predicted = artifact.pipeline.predict(dataset.texts).tolist()
    return {
        **scores(dataset.labels, predicted),
        "n": len(dataset.texts),
        "version": artifact.version,
    }


def _check_trainable(labels: Sequence[int], data_path: str) -> None:
    # Both the stratified split and 5-fold CV need every class in every fold.
    n_negative, n_positive = labels.count(0), labels.count(1)
    if min(n_negative, n_positive) < CV_FOLDS:
        raise DatasetError(
            f"{data_path}: training needs at least {CV_FOLDS} reviews of each label, "
            f"found {n_negative} negative and {n_positive} positive"
        )


def scores(truth: Sequence[int], predicted: Sequence[int]) -> dict[str, Any]:
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


def library_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    return {"python": platform.python_version()} | {
        name: metadata.version(name) for name in _LIBRARIES + extra
    }


def _json_bytes(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8")
