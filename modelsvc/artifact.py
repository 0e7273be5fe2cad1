"""The model artifact on disk: its names and format, writing it atomically, loading it safely.

``model.joblib`` holds ``{"format": 1, "version", "pipeline", "metrics"}`` and, from training,
``"profile"`` (the drift reference, modelsvc/drift.py); ``manifest.json``
beside it records its SHA-256. A joblib artifact is a pickle, and unpickling runs code, so
:func:`load_verified` unpickles only the very bytes whose checksum matched. Files are written
to a temporary name beside their destination and renamed into place, so a reader (another
pod, a restarted worker) never sees half a file.
"""

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import joblib
import numpy as np

ARTIFACT_NAME = "model.joblib"
MANIFEST_NAME = "manifest.json"
METRICS_NAME = "metrics.json"
ARTIFACT_FORMAT = 1


class ArtifactError(ValueError):
    """The artifact cannot be fetched or trusted; ``reason`` is a short metric label."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class Pipeline(Protocol):
    """What serving and evaluation need of the trained pipeline (raw text in)."""

    def predict_proba(self, texts: list[str]) -> np.ndarray: ...

    def predict(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Artifact:
    version: str
    sha256: str
    pipeline: Pipeline
    metrics: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)


@contextmanager
def atomic_path(path: Path, *, prefix: str | None = None) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces ``path`` when the block succeeds.

    On any failure the temporary file is removed and ``path`` is left as it was.
    """
    # In the destination folder, so that os.replace is a same-filesystem atomic rename.
    handle, name = tempfile.mkstemp(
        prefix=prefix or f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    os.close(handle)
    # mkstemp makes the file private (0600); the service may run as another user.
    os.chmod(name, 0o644)
    temp = Path(name)
    try:
        yield temp
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as temp:
        temp.write_bytes(data)


def load_verified(path: Path, expected_sha256: str) -> Artifact:
    """Load the artifact at ``path`` if, and only if, its bytes have ``expected_sha256``."""
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ArtifactError(
            "checksum",
            f"model artifact checksum mismatch: expected {expected_sha256}, got {actual}",
        )
    try:
        content = joblib.load(io.BytesIO(data))
        if not isinstance(content, dict) or content.get("format") != ARTIFACT_FORMAT:
            raise TypeError(f"not a format-{ARTIFACT_FORMAT} artifact")
        pipeline = content["pipeline"]
        if not hasattr(pipeline, "predict_proba"):
            raise TypeError("pipeline has no predict_proba")
        return Artifact(
            version=str(content["version"]),
            sha256=actual,
            pipeline=pipeline,
            metrics=dict(content.get("metrics") or {}),
            profile=dict(content.get("profile") or {}),
        )
    except ArtifactError:
        raise
    except Exception as exc:
        raise ArtifactError("invalid", f"model artifact is unusable: {exc}") from exc


def manifest_checksum(model_dir: Path) -> str:
    """The artifact's SHA-256 as recorded in the folder's manifest at training time."""
    manifest = json.loads((model_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    return str(manifest["artifact_sha256"])


def load_trained(model_dir: str | os.PathLike[str]) -> Artifact:
    """Load the artifact of a training output folder, checked against its manifest."""
    folder = Path(model_dir)
    return load_verified(folder / ARTIFACT_NAME, manifest_checksum(folder))
