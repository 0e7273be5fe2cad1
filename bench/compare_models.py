"""Compare candidate sentiment pipelines by 5-fold stratified cross-validation.

    .venv/bin/python bench/compare_models.py [--data PATH] [--seed N] [--embed]

Prints a Markdown table: CV accuracy (mean and standard deviation over the folds), the time to
fit on the whole file, and the latency of predict_proba on one review. A second accuracy column
repeats 5-fold CV over --repeats reshuffles, which separates real differences from the luck of
one split. Every candidate starts with the same ReviewNormalizer step, so only features and
classifiers differ. The held-out split that train_model reports is not used here: choices are
made on CV alone. --embed adds the embed pipeline (model v2) with its int8 and fp32 encoders;
it needs requirements-train.txt, and each review is encoded once for all of its folds.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold, cross_val_score
from sklearn.naive_bayes import ComplementNB, GaussianNB
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.data import A1  # noqa: E402
from modelsvc.ml.dataset import load_labelled_tsv  # noqa: E402
from modelsvc.ml.features import (  # noqa: E402
    LexiconFeatures,
    ReviewFeatures,
    ReviewNormalizer,
    mark_negation,
)
from modelsvc.ml.pipeline import build_pipeline  # noqa: E402
from modelsvc.ml.pipelines import recipe  # noqa: E402

LATENCY_SAMPLES = 200


def _word(**kwargs: object) -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, **kwargs)


def _char() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)


def _lexicon() -> Pipeline:
    return make_pipeline(LexiconFeatures(), StandardScaler())


def _on_normalized(*steps: object) -> Pipeline:
    return make_pipeline(ReviewNormalizer(), *steps)


def _dense(matrix: object) -> object:
    return matrix.toarray()  # type: ignore[attr-defined]


def candidates(seed: int) -> dict[str, Callable[[], Pipeline]]:
    """Name -> factory of an unfitted pipeline; the last entry is the shipped one."""

    def lr(c: float) -> LogisticRegression:
        return LogisticRegression(C=c, max_iter=5000, random_state=seed)

    return {
        "original-style: bag of words (1,420) + GaussianNB": lambda: _on_normalized(
            CountVectorizer(max_features=1420),
            FunctionTransformer(_dense, accept_sparse=True),
            GaussianNB(),
        ),
        "word 1-2 TF-IDF + ComplementNB": lambda: _on_normalized(_word(), ComplementNB()),
        "word 1-2 TF-IDF + LR C=1": lambda: _on_normalized(_word(), lr(1.0)),
        "word 1-2 TF-IDF + LR C=10": lambda: _on_normalized(_word(), lr(10.0)),
        "word + char_wb 2-5 TF-IDF + LR C=10": lambda: _on_normalized(
            FeatureUnion([("word", _word()), ("char", _char())]), lr(10.0)
        ),
        "lexicon features only + LR C=1": lambda: _on_normalized(_lexicon(), lr(1.0)),
        "word TF-IDF + lexicon + LR C=10": lambda: _on_normalized(
            FeatureUnion(
                [("word", _word()), ("lex", _lexicon())], transformer_weights={"lex": 0.1}
            ),
            lr(10.0),
        ),
        "word + char + lexicon (FeatureUnion) + LR C=10": lambda: _on_normalized(
            FeatureUnion(
                [("word", _word()), ("char", _char()), ("lex", _lexicon())],
                transformer_weights={"lex": 0.1},
            ),
            lr(10.0),
        ),
        "same, negation-marked words (FeatureUnion) + LR C=10": lambda: _on_normalized(
            FeatureUnion(
                [
                    ("word", _word(preprocessor=mark_negation)),
                    ("char", _char()),
                    ("lex", _lexicon()),
                ],
                transformer_weights={"lex": 0.1},
            ),
            lr(10.0),
        ),
        "negation-marked word + char + lexicon + LR C=3": lambda: _on_normalized(
            ReviewFeatures(), lr(3.0)
        ),
        "negation-marked word + char + lexicon + LR C=30": lambda: _on_normalized(
            ReviewFeatures(), lr(30.0)
        ),
        "negation-marked word + char + lexicon + LinearSVC C=1": lambda: _on_normalized(
            ReviewFeatures(), LinearSVC(C=1.0, random_state=seed)
        ),
        "negation-marked word + char + lexicon + calibrated LinearSVC C=1": lambda: _on_normalized(
            ReviewFeatures(),
            CalibratedClassifierCV(LinearSVC(C=1.0, random_state=seed), cv=5),
        ),
        "shipped: build_pipeline() (negation-marked word + char + lexicon, LR C=10)": lambda: (
            build_pipeline(seed)
        ),
    }


def latency_ms(pipeline: Pipeline, texts: list[str]) -> float:
    """Median wall time of scoring one review at a time, as the service does."""
    score = pipeline.predict_proba if hasattr(pipeline, "predict_proba") else pipeline.predict
    timings = []
    for text in texts:
        start = time.perf_counter()
        score([text])
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=A1, help="labelled TSV")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=4, help="reshuffles for repeated CV")
    parser.add_argument("--embed", action="store_true", help="add the embed pipelines")
    args = parser.parse_args()
    pipelines = candidates(args.seed)
    # Around cross-validation only (the embed pipelines encode each review once for all folds);
    # the fit and latency columns run without it, as the service would.
    cv_contexts: dict[str, Callable[[], AbstractContextManager[None]]] = {}
    if args.embed:
        for name in ("embed", "embed-fp32"):
            chosen = recipe(name)
            label = f"{name}: shipped features + sentence embedding"
            pipelines[label] = functools.partial(chosen.build, args.seed)
            cv_contexts[label] = chosen.training

    data = load_labelled_tsv(args.data)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=args.seed)
    repeated = RepeatedStratifiedKFold(n_splits=5, n_repeats=args.repeats, random_state=args.seed)
    print(f"{args.data.name}: {len(data.texts)} reviews, 5-fold stratified CV, seed {args.seed}\n")
    print(
        f"| pipeline | CV accuracy | std | {args.repeats}x5-fold CV | fit (s) "
        "| predict 1 review (ms) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    with threadpool_limits(limits=1):  # see training.train: threads only contend here
        for name, factory in pipelines.items():
            with cv_contexts.get(name, nullcontext)():
                scores = cross_val_score(factory(), data.texts, data.labels, cv=folds)
                repeated_scores = cross_val_score(factory(), data.texts, data.labels, cv=repeated)
            start = time.perf_counter()
            fitted = factory().fit(data.texts, data.labels)
            fit_seconds = time.perf_counter() - start
            latency = latency_ms(fitted, data.texts[:LATENCY_SAMPLES])
            print(
                f"| {name} | {scores.mean():.4f} | {scores.std():.4f} "
                f"| {repeated_scores.mean():.4f} | {fit_seconds:.2f} | {latency:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
