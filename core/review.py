"""What a valid review is: the one definition the web form, both REST APIs and the Open
Inference Protocol apply, each in its own words.

A review reaches the model exactly as written: it is never trimmed or coerced, so the rules
are about the text as given.
"""

from enum import StrEnum
from typing import Any

from django.conf import settings

# The rules below (not only whitespace, no NUL character) as a JSON-schema pattern, for API
# documents; the length limit is the schema's maxLength.
PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"


class Problem(StrEnum):
    """Why a value is not a review; the values are the error codes of the DRF field."""

    MISSING = "required"
    NOT_A_STRING = "not_a_string"
    TOO_LONG = "max_length"
    BLANK = "blank"
    NULL_CHARACTER = "null_characters"


def max_chars() -> int:
    return settings.MAX_REVIEW_CHARS


def review_problem(value: Any) -> Problem | None:
    """The first rule ``value`` breaks, or None when it is a valid review.

    The length is checked before the content so that an oversized value costs no scan.
    """
    if value is None:
        return Problem.MISSING
    if not isinstance(value, str):
        return Problem.NOT_A_STRING
    if len(value) > max_chars():
        return Problem.TOO_LONG
    if not value or value.isspace():
        return Problem.BLANK
    if "\x00" in value:
        return Problem.NULL_CHARACTER
    return None


def json_schema(*, pattern: bool = True) -> dict[str, Any]:
    """The JSON schema of one review, for API documents."""
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": max_chars()}
    if pattern:
        schema["pattern"] = PATTERN
    return schema
