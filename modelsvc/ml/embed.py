"""Sentence embeddings for the ``embed`` pipeline, served by onnxruntime (no torch).

The encoder is all-MiniLM-L6-v2 (mean-pooled, L2-normalised, 384 dimensions), exported to ONNX
and quantised to int8 at training time (modelsvc/ml/encoder_build.py). Its graph travels inside
the pickled :class:`SentenceEncoder`, so an embed model is one artifact like a lexical one: one
file to release, download (``MODEL_URL``) and verify (``MODEL_SHA256``). The loader checks the
artifact's SHA-256 before unpickling it, and the encoder checks its graph against the SHA-256 it
recorded at training time before onnxruntime parses a byte of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import onnxruntime as ort
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from tokenizers import Tokenizer

from modelsvc.ml.features import ReviewFeatures

# Reviews are short (a1: 12 words on average); 128 word pieces keep all but rambling ones whole.
MAX_TOKENS = 128


def _session(graph: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # One thread per call: the service runs one worker process per core already.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


class SentenceEncoder:
    """Text -> sentence embedding, from an ONNX graph with inputs ``input_ids`` and
    ``attention_mask`` and one output of shape [batch, dim] (pooling is inside the graph)."""

    def __init__(self, graph: bytes, tokenizer_json: str, max_tokens: int = MAX_TOKENS) -> None:
        self.sha256 = hashlib.sha256(graph).hexdigest()
        self.tokenizer_json = tokenizer_json
        self.max_tokens = max_tokens
        self._memo: dict[str, np.ndarray] | None = None
        self._graph: bytes | None = graph
        self._setup(graph)

    def _setup(self, graph: bytes) -> None:
        self._tokenizer = Tokenizer.from_str(self.tokenizer_json)
        self._tokenizer.enable_truncation(self.max_tokens)
        # The shipped tokenizer pads to 128; texts go one by one, unpadded (see _encode).
        self._tokenizer.no_padding()
        self._session = _session(graph)

    # Pickled with the graph, without the onnxruntime session.
    def __getstate__(self) -> dict[str, Any]:
        if self._graph is None:
            raise TypeError("an encoder loaded from an artifact is served, not pickled again")
        return {
            "sha256": self.sha256,
            "tokenizer_json": self.tokenizer_json,
            "max_tokens": self.max_tokens,
            "graph": self._graph,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "graph" not in state:
            raise ValueError("an embed artifact without its encoder inside: train it again")
        graph = state.pop("graph")
        actual = hashlib.sha256(graph).hexdigest()
        if actual != state["sha256"]:
            raise ValueError(
                f"encoder graph checksum mismatch: expected {state['sha256']}, got {actual}"
            )
        self.__dict__.update(state)
        self._memo = None
        # Loaded to serve: onnxruntime holds the model, so a second copy of its 23 MB of
        # bytes is not kept in every serving process.
        self._graph = None
        self._setup(graph)

    def __deepcopy__(self, memo: dict[int, Any]) -> SentenceEncoder:
        # Read-only once built; scikit-learn's clone() must share it, not drop its session.
        return self

    @contextmanager
    def memoized(self) -> Iterator[None]:
        """Within the block, each distinct text is encoded once (cross-validation refits the
        same reviews five times; the encoder has nothing to fit)."""
        self._memo = {}
        try:
            yield
        finally:
            self._memo = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._memo is None:
            return self._encode(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            self._memo.update(zip(missing, self._encode(missing), strict=True))
        return np.array([self._memo[t] for t in texts]).reshape(len(texts), -1)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        session = self._session
        # One text per call, never a padded batch: the int8 graph quantises its activations
        # with one scale per call, so a review's embedding would depend on its neighbours'.
        rows = []
        for encoding in self._tokenizer.encode_batch(list(texts)):
            ids = np.asarray([encoding.ids], dtype=np.int64)
            (embedding,) = session.run(
                None, {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            )
            rows.append(embedding[0])
        dim = session.get_outputs()[0].shape[-1]
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), dim)


class EmbedReviewFeatures(TransformerMixin, BaseEstimator):
    """The lexical features (:class:`ReviewFeatures`) with the sentence embedding beside them.

    The embedding is unit length; ``embedding_weight`` scales it against the TF-IDF blocks
    (also unit length each). 2.0 was chosen by 5-fold CV on a1 (bench/compare_models.py).
    """

    def __init__(
        self, encoder: SentenceEncoder | None = None, embedding_weight: float = 2.0
    ) -> None:
        self.encoder = encoder
        self.embedding_weight = embedding_weight

    def _encoder(self) -> SentenceEncoder:
        if self.encoder is None:
            raise ValueError("EmbedReviewFeatures needs an encoder")
        return self.encoder

    def fit(self, X: Iterable[str], y: object = None) -> EmbedReviewFeatures:
        self.fit_transform(X)
        return self

    def fit_transform(self, X: Iterable[str], y: object = None) -> sp.csr_matrix:
        texts = list(X)
        self.lexical_ = ReviewFeatures()
        return self._join(self.lexical_.fit_transform(texts), texts)

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        texts = list(X)
        return self._join(self.lexical_.transform(texts), texts)

    def _join(self, lexical: sp.csr_matrix, texts: list[str]) -> sp.csr_matrix:
        embedding = self._encoder().encode(texts).astype(np.float64) * self.embedding_weight
        return sp.csr_matrix(sp.hstack([lexical, sp.csr_matrix(embedding)], format="csr"))
