"""Small model artifacts in the service's format, for tests that need one quickly."""

import hashlib
from pathlib import Path

import joblib
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline


def write_tiny_artifact(path: Path, version: str = "tiny-1") -> str:
    """Write a tiny but real sentiment pipeline artifact; returns its SHA-256."""
    texts = ["great food", "loved it", "awful service", "terrible and cold", "so good", "bad"]
    labels = [1, 1, 0, 0, 1, 0]
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump({"format": 1, "version": version, "pipeline": pipeline, "metrics": {}}, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()
