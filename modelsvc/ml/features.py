"""Custom scikit-learn transformers used by the sentiment pipeline.

They are module-level classes so that a pickled pipeline refers to them by import path; the
VADER analyzer itself is never pickled (it is a 7,500-word lexicon rebuilt from the installed
package), it is created once per process on first use.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
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


@functools.cache
def get_analyzer() -> SentimentIntensityAnalyzer:
    """The process-wide VADER analyzer, extended with :data:`DOMAIN_LEXICON`.

    polarity_scores() only reads the lexicon, so one instance can be shared by all threads. The
    cache hands out an analyzer only once its lexicon is complete; threads racing on the very
    first call may each build one, which costs a little time and nothing else."""
    analyzer = SentimentIntensityAnalyzer()
    for word, valence in DOMAIN_LEXICON.items():
        analyzer.lexicon.setdefault(word, valence)
    return analyzer


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
_SCOPE_TOKEN_RE = re.compile(r"[\w']+|[.,;:!?]")
_SCOPE_ENDS = frozenset(".,;:!?")


def mark_negation(text: str) -> str:
    """Prefix ``neg_`` to the words between a negation and the next punctuation mark.

    "i will not be back." becomes "i will not neg_be neg_back", so the word n-grams of a negated
    clause differ from the same words said plainly. The word vectorizer's preprocessor; it is
    module-level so that a pickled pipeline refers to it by name.
    """
    words: list[str] = []
    negated = False
    for token in _SCOPE_TOKEN_RE.findall(text):
        if token in _SCOPE_ENDS:
            negated = False
            continue
        words.append(f"neg_{token}" if negated else token)
        negated = negated or token in _NEGATIONS
    return " ".join(words)


LEXICON_FEATURE_NAMES = ("compound", "pos", "neg", "neu", "n_positive", "n_negative", "valence")


def lexicon_scores(text: str) -> list[float]:
    """Sentiment-lexicon features of one normalised review, in LEXICON_FEATURE_NAMES order.

    VADER's own scores, then counts of positive and negative lexicon words and their summed
    valence, where a word's polarity is flipped when a negation closely precedes it ("not good"
    counts as negative). Counts are log-scaled so that long reviews do not dominate.
    """
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
        if not _NEGATIONS.isdisjoint(tokens[max(0, i - _NEGATION_WINDOW) : i]):
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
        math.log1p(n_pos),
        math.log1p(n_neg),
        valence / 4.0,  # VADER valences span [-4, 4]
    ]


class LexiconFeatures(TransformerMixin, BaseEstimator):
    """:func:`lexicon_scores` as a stand-alone transformer (dense, unscaled)."""

    def fit(self, X: Iterable[str], y: object = None) -> LexiconFeatures:
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:
        rows = [lexicon_scores(text) for text in X]
        return np.array(rows, dtype=np.float64).reshape(-1, len(LEXICON_FEATURE_NAMES))

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        return np.array([f"lexicon__{name}" for name in LEXICON_FEATURE_NAMES], dtype=object)


class ReviewFeatures(TransformerMixin, BaseEstimator):
    """Word n-gram TF-IDF (negation-marked), char_wb n-gram TF-IDF and standardised lexicon
    features, side by side.

    The same model as a FeatureUnion of two TfidfVectorizers and a scaled LexiconFeatures, which
    it delegates fitting and large batches to. A few reviews at a time (the service scores one)
    are transformed by recomputing the sublinear-tf * idf, L2-normalised rows from the fitted
    ``vocabulary_`` and ``idf_`` directly: TfidfVectorizer.transform plus a FeatureUnion spend
    ~1.5 ms on input validation for a single review, this path a fraction of that. A test checks
    that both paths give the same matrix.
    """

    # From this many reviews on, scikit-learn's vectorised transform is faster than the
    # per-review path; below it, its fixed validation cost dominates.
    batch_threshold = 16

    def __init__(
        self,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (2, 5),
        min_df: int = 1,
        lexicon_weight: float = 0.1,
    ) -> None:
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.lexicon_weight = lexicon_weight

    def fit(self, X: Iterable[str], y: object = None) -> ReviewFeatures:
        self.fit_transform(X)
        return self

    def fit_transform(self, X: Iterable[str], y: object = None) -> sp.csr_matrix:
        texts = list(X)
        # Input is already normalised (lowercase), hence lowercase=False.
        self.word_ = TfidfVectorizer(
            preprocessor=mark_negation,
            ngram_range=self.word_ngram_range,
            min_df=self.min_df,
            sublinear_tf=True,
            lowercase=False,
        )
        self.char_ = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.char_ngram_range,
            min_df=self.min_df,
            sublinear_tf=True,
            lowercase=False,
        )
        word = self.word_.fit_transform(texts)
        char = self.char_.fit_transform(texts)
        lexicon = LexiconFeatures().transform(texts)
        self.lexicon_mean_ = lexicon.mean(axis=0)
        scale = lexicon.std(axis=0)
        scale[scale == 0.0] = 1.0  # a constant column carries no information; avoid 0/0
        self.lexicon_scale_ = scale
        return self._stack(word, char, lexicon)

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        texts = list(X)
        if len(texts) >= self.batch_threshold:
            return self._transform_batch(texts)
        return self._transform_few(texts)

    def _transform_batch(self, texts: list[str]) -> sp.csr_matrix:
        return self._stack(
            self.word_.transform(texts),
            self.char_.transform(texts),
            LexiconFeatures().transform(texts),
        )

    def _stack(self, word: sp.spmatrix, char: sp.spmatrix, lexicon: np.ndarray) -> sp.csr_matrix:
        scaled = (lexicon - self.lexicon_mean_) / self.lexicon_scale_ * self.lexicon_weight
        return sp.csr_matrix(sp.hstack([word, char, sp.csr_matrix(scaled)], format="csr"))

    def _transform_few(self, texts: list[str]) -> sp.csr_matrix:
        n_word = len(self.word_.vocabulary_)
        n_char = len(self.char_.vocabulary_)
        n_lexicon = len(LEXICON_FEATURE_NAMES)
        lexicon_columns = np.arange(n_word + n_char, n_word + n_char + n_lexicon)
        analyze_word = self.word_.build_analyzer()
        analyze_char = self.char_.build_analyzer()
        indices: list[np.ndarray] = []
        values: list[np.ndarray] = []
        indptr = [0]
        for text in texts:
            w_idx, w_val = _tfidf_row(analyze_word(text), self.word_.vocabulary_, self.word_.idf_)
            c_idx, c_val = _tfidf_row(analyze_char(text), self.char_.vocabulary_, self.char_.idf_)
            lexicon = np.asarray(lexicon_scores(text))
            lexicon = (lexicon - self.lexicon_mean_) / self.lexicon_scale_ * self.lexicon_weight
            indices += [w_idx, c_idx + n_word, lexicon_columns]
            values += [w_val, c_val, lexicon]
            indptr.append(indptr[-1] + len(w_idx) + len(c_idx) + n_lexicon)
        shape = (len(texts), n_word + n_char + n_lexicon)
        if not texts:
            return sp.csr_matrix(shape, dtype=np.float64)
        return sp.csr_matrix(
            (np.concatenate(values), np.concatenate(indices), np.asarray(indptr)), shape=shape
        )

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        return np.concatenate(
            [
                [f"word__{name}" for name in self.word_.get_feature_names_out()],
                [f"char__{name}" for name in self.char_.get_feature_names_out()],
                [f"lexicon__{name}" for name in LEXICON_FEATURE_NAMES],
            ]
        ).astype(object)


def _tfidf_row(
    tokens: list[str], vocabulary: dict[str, int], idf: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted column indices and L2-normalised sublinear tf-idf values of one document,
    exactly as TfidfVectorizer(sublinear_tf=True, norm="l2") computes them."""
    counts = Counter(index for token in tokens if (index := vocabulary.get(token)) is not None)
    columns = np.fromiter(sorted(counts), dtype=np.int32, count=len(counts))
    tf = np.fromiter((counts[c] for c in columns), dtype=np.float64, count=len(counts))
    weights = (np.log(tf) + 1.0) * idf[columns]
    norm = math.sqrt(float(weights @ weights))
    if norm > 0.0:
        weights /= norm
    return columns, weights
