"""Input drift: a profile of reviews and predictions, binned so live traffic can be compared.

Training records the *reference* profile of an artifact (its held-out split: reviews of the
training distribution the model never saw, so their out-of-vocabulary share and confidence are
what live traffic like the training data shows). Serving puts every live review in the same
bins and counts it (``sentiment_model_drift_observations_total``); Prometheus turns the counts
over a window into proportions and compares them with the reference by the population
stability index (recording rule ``sentiment_model:drift_psi:30m`` in
monitoring/prometheusrule.yaml):

    PSI = sum over bins i of (live_i - ref_i) * ln(live_i / ref_i)

with both proportions floored at ``PSI_FLOOR`` so an empty bin stays finite (Siddiqi, *Credit
Risk Scorecards*, 2006: below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a
significant one). Bins: review length by the reference's deciles (ten bins of about equal
reference mass, the usual PSI binning); out-of-vocabulary share, predicted sentiment and
confidence by the fixed edges below.

Counts per bin, rather than a per-process window, because gunicorn's workers each see part of
the traffic: counters add up across workers exactly (prometheus multiprocess mode), so the PSI
is that of all traffic in the window. Only bin indices leave the process, never review text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

PROFILE_FORMAT = 1
PSI_FLOOR = 1e-4
PSI_ALERT = 0.25  # the alert's threshold: a significant shift
LENGTH_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# Upper bin edges, inclusive; the last bin is open-ended.
OOV_EDGES = (0.0, 0.1, 0.25, 0.5)
CONFIDENCE_EDGES = (0.6, 0.7, 0.8, 0.9, 0.95)
POSITIVE_FROM = 0.5  # P(positive) from which a review counts as positive
FEATURES = ("length", "oov_share", "predicted_positive", "confidence")

_WORD = re.compile(r"[^\W\d_]+")  # runs of letters, in any script


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def vocabulary(texts: Iterable[str]) -> frozenset[str]:
    return frozenset(word for text in texts for word in words(text))


def oov_share(text: str, known: frozenset[str]) -> float:
    found = words(text)
    if not found:
        return 1.0  # nothing the model has seen: as unfamiliar as a review can be
    return sum(word not in known for word in found) / len(found)


def _bin(edges: Sequence[float], value: float) -> int:
    return bisect.bisect_left(edges, value)


def bin_values(
    texts: Sequence[str], positive: np.ndarray, edges: dict[str, list[float]], known: frozenset[str]
) -> dict[str, list[int]]:
    """Each review's bin index per feature."""
    confidence = np.maximum(positive, 1.0 - positive).tolist()
    return {
        "length": [_bin(edges["length"], len(text)) for text in texts],
        "oov_share": [_bin(edges["oov_share"], oov_share(text, known)) for text in texts],
        "predicted_positive": [int(p >= POSITIVE_FROM) for p in positive.tolist()],
        "confidence": [_bin(edges["confidence"], c) for c in confidence],
    }


def bin_count(edges: Sequence[float]) -> int:
    return len(edges) + 1


def reference_profile(
    train_texts: Sequence[str], held_out: Sequence[str], positive: np.ndarray
) -> dict[str, Any]:
    """The profile of ``held_out`` (with the model's P(positive) for it) against the
    vocabulary of ``train_texts``; what the artifact and its manifest record."""
    known = vocabulary(train_texts)
    lengths = np.array([len(text) for text in held_out], dtype=float)
    edges = {
        "length": sorted({float(q) for q in np.quantile(lengths, LENGTH_QUANTILES)}),
        "oov_share": list(OOV_EDGES),
        "predicted_positive": [0.0],  # two bins: negative, positive
        "confidence": list(CONFIDENCE_EDGES),
    }
    binned = bin_values(held_out, positive, edges, known)
    proportions = {
        feature: (np.bincount(binned[feature], minlength=bin_count(edges[feature])) / len(held_out))
        .round(6)
        .tolist()
        for feature in FEATURES
    }
    return {
        "format": PROFILE_FORMAT,
        "n": len(held_out),
        "edges": edges,
        "proportions": proportions,
        "length_quantiles": dict(
            zip(
                map(str, LENGTH_QUANTILES),
                np.quantile(lengths, LENGTH_QUANTILES).tolist(),
                strict=True,
            )
        ),
        "vocabulary": sorted(known),
    }


def psi(reference: Sequence[float], live: Sequence[float]) -> float:
    """Population stability index of two proportion vectors over the same bins."""
    ref = np.maximum(np.asarray(reference, dtype=float), PSI_FLOOR)
    act = np.maximum(np.asarray(live, dtype=float), PSI_FLOOR)
    return float(np.sum((act - ref) * np.log(act / ref)))


class Profiler:
    """Bins live reviews with an artifact's reference edges and vocabulary."""

    def __init__(self, profile: dict[str, Any]):
        self.edges: dict[str, list[float]] = profile["edges"]
        self.proportions: dict[str, list[float]] = profile["proportions"]
        self.known = frozenset(profile["vocabulary"])

    def bins(self) -> dict[str, int]:
        return {feature: bin_count(self.edges[feature]) for feature in FEATURES}

    def observe(self, texts: Sequence[str], positive: np.ndarray) -> dict[str, list[int]]:
        return bin_values(texts, positive, self.edges, self.known)


def summary(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile without its vocabulary (its size instead), for the manifest."""
    return {k: v for k, v in profile.items() if k != "vocabulary"} | {
        "vocabulary_size": len(profile["vocabulary"])
    }
