"""The loaded model and its life cycle: resolve the artifact, verify it, load it, predict.

The service starts answering liveness at once and turns ready when a verified model is
loaded; until then (or if the artifact is refused) readiness says why.
"""

import functools
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings

from core import metrics
from modelsvc import artifact, delivery, drift
from modelsvc.config import CORPUS_PATH, ModelConfig, load_config

logger = logging.getLogger(__name__)

LABELS = ("negative", "positive")
POSITIVE_FROM = drift.POSITIVE_FROM


@functools.cache
def _model_metrics(version: str, endpoint: str) -> tuple:
    """One model version's metric children, looked up once rather than on every call."""
    return (
        metrics.MODEL_INFERENCE_SECONDS.labels(version, endpoint),
        metrics.MODEL_BATCH_SIZE.labels(version, endpoint),
        metrics.MODEL_PREDICTIONS.labels(version, "positive"),
        metrics.MODEL_PREDICTIONS.labels(version, "negative"),
        metrics.MODEL_CONFIDENCE.labels(version),
    )


@dataclass(frozen=True)
class Prediction:
    sentiment: str
    confidence: float
    probabilities: tuple[float, float]


@dataclass(frozen=True)
class LoadedModel:
    version: str
    sha256: str
    pipeline: artifact.Pipeline
    metrics: dict = field(default_factory=dict)
    profile: dict = field(default_factory=dict)

    @functools.cached_property
    def _drift(self) -> tuple[drift.Profiler, dict[str, list]] | None:
        """The reference profile's binning and one counter child per bin (created at zero, so
        a bin no live review reached still has a series for the PSI to read)."""
        if not self.profile:
            return None
        profiler = drift.Profiler(self.profile)
        children = {
            feature: [
                metrics.MODEL_DRIFT_OBSERVATIONS.labels(self.version, feature, str(i))
                for i in range(count)
            ]
            for feature, count in profiler.bins().items()
        }
        return profiler, children

    def publish_reference(self) -> None:
        if self._drift is None:
            return
        profiler, _ = self._drift
        for feature, shares in profiler.proportions.items():
            for i, share in enumerate(shares):
                metrics.MODEL_DRIFT_REFERENCE.labels(self.version, feature, str(i)).set(share)

    def _observe_drift(self, texts: list[str], positive: np.ndarray) -> None:
        if self._drift is None:
            return
        profiler, children = self._drift
        for feature, bins in profiler.observe(texts, positive).items():
            for index, count in enumerate(np.bincount(bins).tolist()):
                if count:
                    children[feature][index].inc(count)

    def predict_proba(self, texts: list[str], endpoint: str) -> np.ndarray:
        """Probabilities [negative, positive] per text, in one vectorised call."""
        started = time.perf_counter()
        proba = self.pipeline.predict_proba(texts)
        elapsed = time.perf_counter() - started
        inference, batch, positives, negatives, confidence = _model_metrics(self.version, endpoint)
        inference.observe(elapsed)
        batch.observe(len(texts))
        positive = proba[:, 1]
        n_positive = int(np.count_nonzero(positive >= POSITIVE_FROM))
        if n_positive:
            positives.inc(n_positive)
        if len(texts) - n_positive:
            negatives.inc(len(texts) - n_positive)
        for value in np.maximum(positive, 1.0 - positive).tolist():
            confidence.observe(value)
        self._observe_drift(texts, positive)
        return proba

    def predict(self, texts: list[str], endpoint: str) -> list[Prediction]:
        proba = self.predict_proba(texts, endpoint)
        results = []
        for neg, pos in proba.tolist():
            label = 1 if pos >= POSITIVE_FROM else 0
            results.append(Prediction(LABELS[label], round(max(neg, pos), 6), (neg, pos)))
        return results


@dataclass
class _State:
    model: LoadedModel | None = None
    error: str = "model is loading"
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: bool = False
    attempted: threading.Event = field(default_factory=threading.Event)


_state = _State()


def current_model() -> LoadedModel | None:
    return _state.model


def not_ready_reason() -> str:
    return _state.error


def load_verified(path: Path, expected_sha256: str) -> LoadedModel:
    """The model in the artifact at ``path``, unpickled only if its checksum matched."""
    loaded = artifact.load_verified(path, expected_sha256)
    return LoadedModel(
        loaded.version, loaded.sha256, loaded.pipeline, loaded.metrics, loaded.profile
    )


def _local_artifact(config: ModelConfig) -> tuple[Path, str]:
    """The local artifact (MODEL_DIR), trained from the shipped corpus if there is none."""
    path = config.local_dir / artifact.ARTIFACT_NAME
    with delivery.file_lock(config.local_dir):
        if not path.exists():
            # Training code is not needed to serve, so it is imported only when used.
            from modelsvc.ml.training import train  # noqa: PLC0415

            logger.info("no model at %s; training the default from %s", path, CORPUS_PATH)
            train(CORPUS_PATH, config.local_dir, pipeline_name=config.pipeline)
    return path, artifact.manifest_checksum(config.local_dir)


def resolve_and_load(config: ModelConfig) -> LoadedModel:
    if config.url:
        if settings.PRODUCTION and not config.sha256:
            raise artifact.ArtifactError(
                "checksum", "APP_MODE=prod requires MODEL_SHA256 to verify the model artifact"
            )
        path, sha = delivery.fetch_artifact(config)
    else:
        path, sha = _local_artifact(config)
    return load_verified(path, sha)


def install(model: LoadedModel) -> None:
    previous = _state.model
    _state.model = model
    _state.error = ""
    if previous is not None and previous.version != model.version:
        metrics.MODEL_READY.labels(previous.version).set(0)
    metrics.MODEL_READY.labels(model.version).set(1)
    model.publish_reference()


@contextmanager
def override(model: LoadedModel | None, *, error: str = "model is loading") -> Iterator[None]:
    """For tests: serve ``model`` inside the block (with None, be not ready because of
    ``error``), then serve again whatever was served before."""
    previous = _state.model, _state.error
    if model is None:
        _state.model, _state.error = None, error
    else:
        install(model)
    try:
        yield
    finally:
        _state.model, _state.error = previous


def load(config: ModelConfig | None = None) -> LoadedModel | None:
    """Load the configured model; on failure stay not-ready and record why."""
    config = config or load_config()
    try:
        model = resolve_and_load(config)
    except Exception as exc:  # noqa: BLE001 - any failure must leave a reason, not a dead thread
        reason = getattr(exc, "reason", "invalid")
        metrics.MODEL_LOAD_FAILURES.labels(reason).inc()
        _state.error = str(exc)
        logger.error("model not loaded: %s", exc)
        return None
    install(model)
    logger.info("model %s loaded (sha256 %s)", model.version, model.sha256)
    return model


def _load_once() -> None:
    try:
        load()
    finally:
        _state.attempted.set()


def start_background_load() -> None:
    """Load in a thread so liveness answers while a large artifact downloads."""
    with _state.lock:
        if _state.started:
            return
        _state.started = True
    threading.Thread(target=_load_once, name="model-loader", daemon=True).start()


def wait_until_loaded(timeout: float) -> bool:
    """Block until the first load attempt ends (or ``timeout``): a worker that takes requests
    only after that never answers 503 beside siblings that are ready."""
    return _state.attempted.wait(timeout)
