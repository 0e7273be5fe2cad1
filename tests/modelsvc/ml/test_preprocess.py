"""normalize_review: the one preprocessing function shared by training and serving."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsvc.ml.preprocess import normalize_review


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The Food Was GREAT", "the food was great"),
        ("  loved \t it\n\nreally  ", "loved it really"),
        ("\uff27\uff4f\uff4f\uff44 \ufb01sh", "good fish"),  # fullwidth letters, "fi" ligature
        ("Caf\u0065\u0301 was nice", "caf\u00e9 was nice"),  # combining accent composed
    ],
)
def test_lowercases_folds_unicode_and_whitespace(raw, expected):
    assert normalize_review(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("It wasn't good", "it was not good"),
        ("It wasn\u2019t good", "it was not good"),  # typographic apostrophe
        ("I didnt like it", "i did not like it"),  # apostrophe left out
        ("We won't return", "we will not return"),
        ("I can't recommend it", "i can not recommend it"),
        ("I cannot recommend it", "i can not recommend it"),
        ("Don't go, it ain't worth it", "do not go, it is not worth it"),
        ("They're friendly and I've been twice", "they are friendly and i have been twice"),
    ],
)
def test_expands_contractions_so_negations_share_one_spelling(raw, expected):
    assert normalize_review(raw) == expected


def test_words_that_merely_end_in_nt_are_left_alone():
    assert normalize_review("Elegant restaurant, decent events") == (
        "elegant restaurant, decent events"
    )


def test_control_and_format_characters_become_spaces():
    assert normalize_review("good\x00food\u200bhere\x07!") == "good food here !"


def test_emoji_and_non_latin_text_survive():
    assert normalize_review("Amazing \U0001f60d\U0001f355 \u5f88\u597d\u5403") == (
        "amazing \U0001f60d\U0001f355 \u5f88\u597d\u5403"
    )


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
