"""normalize_review: the one preprocessing function shared by training and serving."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsvc.ml.preprocess import normalize_review


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("The Food Was GREAT", "the food was great", id="lowercased"),
        pytest.param("  loved \t it\n\nreally  ", "loved it really", id="whitespace-folded"),
        pytest.param("\uff27\uff4f\uff4f\uff44 \ufb01sh", "good fish", id="fullwidth-and-ligature"),
        pytest.param(
            "Caf\u0065\u0301 was nice", "caf\u00e9 was nice", id="combining-accent-composed"
        ),
        # Contractions are expanded so that negations share one spelling.
        pytest.param("It wasn't good", "it was not good", id="wasnt"),
        pytest.param("It wasn\u2019t good", "it was not good", id="typographic-apostrophe"),
        pytest.param("I didnt like it", "i did not like it", id="apostrophe-left-out"),
        pytest.param("We won't return", "we will not return", id="wont"),
        pytest.param("I can't recommend it", "i can not recommend it", id="cant"),
        pytest.param("I cannot recommend it", "i can not recommend it", id="cannot"),
        pytest.param(
            "Don't go, it ain't worth it", "do not go, it is not worth it", id="dont-aint"
        ),
        pytest.param(
            "They're friendly and I've been twice",
            "they are friendly and i have been twice",
            id="re-ve",
        ),
        pytest.param(
            "Elegant restaurant, decent events",
            "elegant restaurant, decent events",
            id="words-merely-ending-in-nt-left-alone",
        ),
        pytest.param(
            "good\x00food\u200bhere\x07!", "good food here !", id="control-and-format-to-spaces"
        ),
        pytest.param(
            "Amazing \U0001f60d\U0001f355 \u5f88\u597d\u5403",
            "amazing \U0001f60d\U0001f355 \u5f88\u597d\u5403",
            id="emoji-and-non-latin-survive",
        ),
    ],
)
def test_lowercases_folds_unicode_and_whitespace_and_expands_contractions(raw, expected):
    assert normalize_review(raw) == expected


def test_lone_surrogates_are_dropped_so_output_encodes_as_utf8():
    normalize_review("bad \ud800 food").encode("utf-8")


@pytest.mark.parametrize("raw", ["", "   ", "\x00\x00", "\n\t\r"])
def test_blank_input_gives_empty_string(raw):
    assert normalize_review(raw) == ""


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_total_idempotent_and_tidy_on_any_str(raw):
    out = normalize_review(raw)
    assert isinstance(out, str)
    assert normalize_review(out) == out
    assert out == out.strip()
    assert "  " not in out
    assert "\x00" not in out
    out.encode("utf-8")
