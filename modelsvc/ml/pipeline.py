"""The sentiment model: one scikit-learn Pipeline from raw review text to P(positive)."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from modelsvc.ml.features import ReviewFeatures, ReviewNormalizer


def build_pipeline(seed: int = 42) -> Pipeline:
    """An unfitted pipeline: normalise -> features -> logistic regression.

    Features are word 1-2-gram TF-IDF over negation-marked text, char_wb 2-5-gram TF-IDF, and
    standardised VADER-lexicon scores (see ReviewFeatures). Fit and predict take a plain list of
    str; after fitting, classes_ is [0, 1].

    The design and C were chosen by 5-fold stratified cross-validation on the a1 data set (see
    bench/compare_models.py); held-out figures were only looked at afterwards.
    """
    return Pipeline(
        [
            # Normalisation lives inside the pipeline so serving can never skew from training.
            ("normalize", ReviewNormalizer()),
            ("features", ReviewFeatures()),
            ("classifier", LogisticRegression(C=10.0, max_iter=5000, random_state=seed)),
        ]
    )
