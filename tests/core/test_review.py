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


@pytest.mark.parametrize(
    "value",
    # (A list is not among them: the protocol reads [[text]] as a row of shape [N, 1].)
    ["Good.", "  a  ", "", " \t\n", "x" * 5001, " " * 5001, "a\x00b", 42, None, {"t": "x"}],
)
def test_the_form_both_apis_and_the_protocol_agree(settings, value):
    """Every entry point takes exactly the values the rules take."""
    from rest_framework import serializers

    from core.fields import ReviewField
    from modelsvc.oip.protocol import ProtocolError, _texts
    from webapp.reviews.forms import ReviewForm

    settings.MAX_REVIEW_CHARS = 5000
    valid = review.review_problem(value) is None

    class Payload(serializers.Serializer):
        review = ReviewField()

    assert Payload(data={"review": value}).is_valid() == valid
    try:
        _texts([value], 1)
        protocol_valid = True
    except ProtocolError:
        protocol_valid = False
    assert protocol_valid == valid
    if isinstance(value, str):  # a form only ever receives text
        assert ReviewForm({"review": value}).is_valid() == valid
