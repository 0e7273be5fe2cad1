"""Validated input fields shared by both services' APIs."""

from django.conf import settings
from rest_framework import serializers


class ReviewField(serializers.CharField):
    """A review exactly as the user wrote it: a non-blank string within the size limit.

    Whitespace is not trimmed (the text reaches the model unchanged), numbers are not
    coerced to text, and NUL or lone surrogate characters are refused by DRF's validators.
    """

    default_error_messages = {
        "not_a_string": "Must be a string.",
        "blank": "Must not be empty or only whitespace.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", settings.MAX_REVIEW_CHARS)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        if not data.strip():
            self.fail("blank")
        return super().to_internal_value(data)
