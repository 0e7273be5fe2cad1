"""The model pipeline and its custom transformers."""

import pickle
import threading

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.pipeline import Pipeline

from modelsvc.ml.features import (
    LEXICON_FEATURE_NAMES,
    LexiconFeatures,
    ReviewFeatures,
    ReviewNormalizer,
    lexicon_scores,
    mark_negation,
)
from modelsvc.ml.pipeline import build_pipeline

POSITIVE = [
    "Loved the food, great service.",
    "Delicious pasta and friendly staff.",
    "Amazing place, will come back!",
    "The steak was perfect and tasty.",
    "Wonderful atmosphere and awesome desserts.",
    "Best tacos in town, highly recommend.",
    "Fresh sushi and a lovely view.",
    "Great value, the portions were generous.",
]
NEGATIVE = [
    "Terrible service and cold food.",
    "The soup was bland and overpriced.",
    "Awful experience, never coming back.",
    "Rude waiter, dirty tables.",
    "The fries were soggy and stale.",
    "Worst burger I have ever had.",
    "We waited an hour, food was not good.",
    "Disappointing and greasy pizza.",
]
TEXTS = POSITIVE + NEGATIVE
LABELS = [1] * len(POSITIVE) + [0] * len(NEGATIVE)


@pytest.fixture(scope="module")
def fitted() -> Pipeline:
    return build_pipeline().fit(TEXTS, LABELS)


def test_first_step_is_the_shared_normalizer():
    pipeline = build_pipeline()
    assert isinstance(pipeline, Pipeline)
    assert isinstance(pipeline.steps[0][1], ReviewNormalizer)


def test_classes_are_negative_then_positive(fitted):
    assert fitted.classes_.tolist() == [0, 1]
    probabilities = fitted.predict_proba(["Great food!", "Awful food."])
    assert probabilities.shape == (2, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_learns_the_obvious(fitted):
    assert fitted.predict(
        ["Delicious and friendly, loved it", "Rude staff, bland food"]
    ).tolist() == [
        1,
        0,
    ]


def test_same_seed_gives_same_model():
    first = build_pipeline(seed=7).fit(TEXTS, LABELS).predict_proba(TEXTS)
    second = build_pipeline(seed=7).fit(TEXTS, LABELS).predict_proba(TEXTS)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(
    "review",
    [
        "",
        "   ",
        "\x00",
        "\U0001f621\U0001f621\U0001f621",
        "\u5f88\u597d\u5403",
        "bad \ud800",
        "a" * 50_000,
    ],
)
def test_scores_any_text_without_error(fitted, review):
    probabilities = fitted.predict_proba([review])
    assert np.isfinite(probabilities).all()


def test_normalisation_happens_inside_the_pipeline(fitted):
    raw = fitted.predict_proba(["  The SOUP wasn\u2019t   GOOD\t"])
    clean = fitted.predict_proba(["the soup was not good"])
    np.testing.assert_allclose(raw, clean)


def test_fast_features_equal_scikit_learn_tfidf_and_lexicon():
    texts = ReviewNormalizer().transform(TEXTS)
    features = ReviewFeatures().fit(texts)
    queries = ReviewNormalizer().transform(
        ["Great great great food", "never again, not good", "", "unseen words only zzz", *TEXTS]
    )
    lexicon = LexiconFeatures().transform(queries)
    expected = sp.hstack(
        [
            features.word_.transform(queries),
            features.char_.transform(queries),
            (lexicon - features.lexicon_mean_) / features.lexicon_scale_ * features.lexicon_weight,
        ]
    ).toarray()
    assert len(queries) >= features.batch_threshold  # so transform() takes the batch path
    # Both paths, whichever the size picks: the few-queries one is private on purpose.
    few = features._transform_few(queries)  # noqa: SLF001
    for actual in (features.transform(queries), few):
        assert sp.issparse(actual)
        np.testing.assert_allclose(actual.toarray(), expected, atol=1e-12)
    np.testing.assert_allclose(features.transform(queries[:3]).toarray(), expected[:3], atol=1e-12)
    np.testing.assert_allclose(
        ReviewFeatures().fit_transform(texts).toarray(), features.transform(texts).toarray()
    )
    assert len(features.get_feature_names_out()) == expected.shape[1]


def test_transform_of_no_reviews_is_an_empty_matrix():
    features = ReviewFeatures().fit(ReviewNormalizer().transform(TEXTS))
    assert features.transform([]).shape == (0, len(features.get_feature_names_out()))


def test_lexicon_features_are_negation_aware():
    names = list(LEXICON_FEATURE_NAMES)
    good = dict(zip(names, lexicon_scores("the food was good"), strict=True))
    not_good = dict(zip(names, lexicon_scores("the food was not good"), strict=True))
    assert good["n_positive"] > 0 and good["n_negative"] == 0
    assert not_good["n_negative"] > 0 and not_good["n_positive"] == 0
    assert good["compound"] > 0 > not_good["compound"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i will not be back, honestly.", "i will not neg_be neg_back honestly"),
        ("never again! great pho", "never neg_again great pho"),
        ("no caf\u00e9 \u5f88\u597d", "no neg_caf\u00e9 neg_\u5f88\u597d"),
        ("", ""),
    ],
)
def test_negation_scope_runs_to_the_next_punctuation(text, expected):
    assert mark_negation(text) == expected


def test_lexicon_knows_restaurant_words_vader_lacks():
    bland = dict(zip(LEXICON_FEATURE_NAMES, lexicon_scores("bland and overpriced"), strict=True))
    tasty = dict(zip(LEXICON_FEATURE_NAMES, lexicon_scores("tasty"), strict=True))
    assert bland["valence"] < 0 < tasty["valence"]


def test_pickle_round_trip_keeps_predictions_and_leaves_vader_out(fitted):
    data = pickle.dumps(fitted)
    assert b"SentimentIntensityAnalyzer" not in data  # rebuilt per process, not shipped
    restored = pickle.loads(data)  # noqa: S301 - our own bytes
    np.testing.assert_array_equal(restored.predict_proba(TEXTS), fitted.predict_proba(TEXTS))


def test_concurrent_predictions_match_sequential_ones(fitted):
    expected = fitted.predict_proba(TEXTS)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def score() -> None:
        try:
            for _ in range(5):
                results.append(fitted.predict_proba(TEXTS))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=score) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for result in results:
        np.testing.assert_array_equal(result, expected)
