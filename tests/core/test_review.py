"""The review rules: one verdict per value, and a schema pattern that agrees with them."""

import re

import pytest

from core import review
from core.review import Problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("Good.", None),
        ("  spaced out  ", None),
        ("é" * 5000, None),
        (None, Problem.MISSING),
        (42, Problem.NOT_A_STRING),
        (True, Problem.NOT_A_STRING),
        (["good"], Problem.NOT_A_STRING),
        (b"good", Problem.NOT_A_STRING),
        ("", Problem.BLANK),
        (" \r\n\t\u00a0\u2003", Problem.BLANK),
        ("x" * 5001, Problem.TOO_LONG),
        (" " * 5001, Problem.TOO_LONG),
        ("nul\x00byte", Problem.NULL_CHARACTER),
        ("\x00", Problem.NULL_CHARACTER),
    ],
)
def test_each_value_gets_one_verdict(settings, value, problem):
    settings.MAX_REVIEW_CHARS = 5000
    assert review.review_problem(value) == problem


def test_the_limit_is_read_when_checking(settings):
    settings.MAX_REVIEW_CHARS = 3
    assert review.review_problem("abcd") == Problem.TOO_LONG
    assert review.json_schema()["maxLength"] == 3


@pytest.mark.parametrize(
    "text", ["Good.", "  a  ", "", "   ", "\t\n", "a\x00", "\x00 b", "ok\nfine", "\x00"]
)
def test_the_schema_pattern_agrees_with_the_rules(text):
    matches = re.fullmatch(review.PATTERN, text) is not None
    assert matches == (review.review_problem(text) is None)
