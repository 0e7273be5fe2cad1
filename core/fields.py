"""Validated input fields shared by both services' APIs."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core import review


@extend_schema_field(review.json_schema(pattern=False))
class ReviewField(serializers.CharField):
    """A review exactly as the user wrote it, by the rules of :mod:`core.review`.

    Whitespace is not trimmed (the text reaches the model unchanged), numbers are not
    coerced to text, and lone surrogate characters are refused by DRF's validators.
    """

    default_error_messages = {
        review.Problem.NOT_A_STRING: "Must be a string.",
        review.Problem.BLANK: "Must not be empty or only whitespace.",
        review.Problem.TOO_LONG: "Ensure this field has no more than {max_length} characters.",
        review.Problem.NULL_CHARACTER: "Null characters are not allowed.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        problem = review.review_problem(data)
        if problem is not None:
            self.fail(problem.value, max_length=review.max_chars())
        return super().to_internal_value(data)
