"""The drift profile: bins, the population stability index, and what serving counts."""

import math

import numpy as np
import pytest
from prometheus_client import REGISTRY

from modelsvc import drift


def test_psi_is_the_textbook_formula_with_a_floor_for_empty_bins():
    reference, live = [0.5, 0.3, 0.2], [0.4, 0.4, 0.2]
    expected = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.4 - 0.3) * math.log(0.4 / 0.3)
    assert drift.psi(reference, live) == pytest.approx(expected)
    assert drift.psi(reference, reference) == 0
    empty = drift.psi([0.5, 0.5], [1.0, 0.0])
    assert empty == pytest.approx(0.5 * math.log(2) + (1e-4 - 0.5) * math.log(1e-4 / 0.5))


def test_reference_profile_bins_hold_the_held_out_reviews():
    train = ["the soup was good", "the bread was stale"]
    held_out = ["good soup", "stale bread and zzz", "qqq", "the soup"]
    profile = drift.reference_profile(train, held_out, np.array([0.9, 0.2, 0.5, 0.7]))
    assert profile["proportions"]["predicted_positive"] == [0.25, 0.75]
    # out-of-vocabulary shares 0, 2/4, 1, 0 -> bins 0, 3 (<= 0.5), 4 (> 0.5), 0
    assert profile["proportions"]["oov_share"] == [0.5, 0.0, 0.0, 0.25, 0.25]
    assert drift.oov_share("12 !!", frozenset()) == 1.0  # no words at all: unfamiliar
    assert sorted(profile["vocabulary"]) == ["bread", "good", "soup", "stale", "the", "was"]


def _counts(version: str, feature: str) -> dict[str, float]:
    return {
        sample.labels["bin"]: sample.value
        for metric in REGISTRY.collect()
        if metric.name == "sentiment_model_drift_observations"
        for sample in metric.samples
        if sample.name.endswith("_total")
        and sample.labels["model_version"] == version
        and sample.labels["feature"] == feature
    }


def test_serving_counts_each_review_in_one_bin_per_feature(loaded_model):
    before = _counts(loaded_model.version, "oov_share")
    assert set(before) == {str(i) for i in range(len(drift.OOV_EDGES) + 1)}  # all bins exist
    loaded_model.predict(["qwxz vbnk zzkq", "The food was great."], "analyze")
    after = _counts(loaded_model.version, "oov_share")
    assert sum(after.values()) - sum(before.values()) == 2
    assert after["4"] - before["4"] >= 1  # the gibberish: every word unknown
    for feature in drift.FEATURES:
        assert set(_counts(loaded_model.version, feature)) <= {str(i) for i in range(11)}
