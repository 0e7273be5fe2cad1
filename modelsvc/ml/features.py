"""Custom scikit-learn transformers used by the sentiment pipeline.

They are module-level classes so that a pickled pipeline refers to them by import path; the
VADER analyzer itself is never pickled (it is a 7,500-word lexicon rebuilt from the installed
package), it is created once per process on first use.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from vaderSentiment.vaderSentiment import NEGATE, SentimentIntensityAnalyzer

from modelsvc.ml.preprocess import normalize_review

# Restaurant vocabulary that VADER's general-purpose lexicon lacks (it has no entry for "bland" or
# "tasty"), on VADER's -4..4 valence scale. Written from domain knowledge, not mined from the
# training data; only words absent from VADER are added, existing valences are never overridden.
DOMAIN_LEXICON: dict[str, float] = {
    # food
    "bland": -1.8, "tasteless": -2.0, "flavorless": -2.0, "stale": -1.8, "undercooked": -1.9,
    "overcooked": -1.7, "soggy": -1.6, "greasy": -1.3, "rubbery": -1.7, "inedible": -2.8,
    "lukewarm": -1.2, "tepid": -1.0, "burnt": -1.5, "salty": -0.8, "watery": -1.3,
    "mushy": -1.3, "microwaved": -1.5, "chewy": -0.8, "dried": -0.6,
    "tasty": 2.2, "delish": 2.4, "flavorful": 2.1, "tender": 1.5, "juicy": 1.6, "crispy": 1.2,
    "moist": 1.0, "yum": 2.2, "mouthwatering": 2.3, "homemade": 1.0, "authentic": 1.2,
    # service and place
    "slow": -1.0, "rushed": -1.0, "inattentive": -1.6, "filthy": -2.5, "sloppy": -1.5,
    "attentive": 1.9, "prompt": 1.0, "knowledgeable": 1.2, "hospitable": 1.7,
    "professional": 1.0, "accommodating": 1.6, "impeccable": 2.5, "cozy": 1.5,
    # value and overall verdict
    "overpriced": -1.8, "pricey": -0.8, "overcharged": -1.8, "refund": -0.8,
    "reasonable": 1.0, "affordable": 1.3,
    "mediocre": -1.5, "overrated": -1.6, "underwhelming": -1.7, "forgettable": -1.2,
    "subpar": -1.6, "lacking": -1.0, "lacked": -1.0, "downhill": -1.5,
    "bleh": -1.5, "yuck": -2.0, "eww": -2.0,
    "gem": 2.0, "rave": 1.5, "phenomenal": 2.8, "stellar": 2.6,
}  # fmt: skip

_analyzer: SentimentIntensityAnalyzer | None = None
_analyzer_lock = threading.Lock()


def get_analyzer() -> SentimentIntensityAnalyzer:
    """The process-wide VADER analyzer, extended with :data:`DOMAIN_LEXICON`.

    polarity_scores() only reads the lexicon, so one instance can be shared by all threads once
    built; it is published only after the lexicon is complete."""
    global _analyzer
    if _analyzer is None:
        with _analyzer_lock:
            if _analyzer is None:
                analyzer = SentimentIntensityAnalyzer()
                for word, valence in DOMAIN_LEXICON.items():
                    analyzer.lexicon.setdefault(word, valence)
                _analyzer = analyzer
    return _analyzer


class ReviewNormalizer(TransformerMixin, BaseEstimator):
    """Pipeline step applying :func:`normalize_review`, so preprocessing ships with the model."""

    def fit(self, X: Iterable[str], y: object = None) -> ReviewNormalizer:
        return self

    def transform(self, X: Iterable[str]) -> list[str]:
        return [normalize_review(str(text)) for text in X]


_TOKEN_RE = re.compile(r"[a-z][a-z']*")
_NEGATIONS = frozenset(NEGATE) | {"no", "not", "never", "without", "nothing", "hardly"}
# How many preceding tokens a negation reaches; VADER itself looks back three words too.
_NEGATION_WINDOW = 3


class LexiconFeatures(TransformerMixin, BaseEstimator):
    """Dense sentiment-lexicon features for already-normalised text.

    Columns: VADER compound, pos, neg, neu, then counts of positive and negative lexicon words and
    their summed valence, with the polarity of a word flipped when a negation precedes it closely
    ("not good" counts as negative). Counts are log-scaled so long reviews do not dominate.
    """

    feature_names = ("compound", "pos", "neg", "neu", "n_positive", "n_negative", "valence")

    def fit(self, X: Iterable[str], y: object = None) -> LexiconFeatures:
        self.n_features_in_ = 1
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:
        return np.array([self._row(text) for text in X], dtype=np.float64).reshape(
            -1, len(self.feature_names)
        )

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        return np.array([f"lexicon__{name}" for name in self.feature_names], dtype=object)

    @staticmethod
    def _row(text: str) -> list[float]:
        analyzer = get_analyzer()
        scores = analyzer.polarity_scores(text)
        lexicon = analyzer.lexicon
        n_pos = n_neg = 0
        valence = 0.0
        tokens = _TOKEN_RE.findall(text)
        for i, token in enumerate(tokens):
            value = lexicon.get(token)
            if value is None:
                continue
            if any(t in _NEGATIONS for t in tokens[max(0, i - _NEGATION_WINDOW) : i]):
                value = -value
            valence += value
            if value > 0:
                n_pos += 1
            elif value < 0:
                n_neg += 1
        return [
            scores["compound"],
            scores["pos"],
            scores["neg"],
            scores["neu"],
            float(np.log1p(n_pos)),
            float(np.log1p(n_neg)),
            valence / 4.0,  # VADER valences span [-4, 4]
        ]
