"""The /analyze bodies both REST APIs refuse with 400 ``invalid_input``: each rule of
core/review.py broken, and bodies that are not an object. Each comes with a word the error
message contains."""

import pytest
from django.conf import settings

BAD_ANALYZE_BODIES = [
    pytest.param({}, "review", id="missing"),
    pytest.param({"review": ""}, "empty", id="empty"),
    pytest.param({"review": "   \n\t  "}, "empty", id="whitespace"),
    pytest.param({"review": 42}, "string", id="number"),
    pytest.param({"review": None}, "review", id="null"),
    pytest.param({"review": ["good"]}, "string", id="list"),
    pytest.param({"review": {"text": "good"}}, "string", id="object"),
    pytest.param(
        {"review": "x" * (settings.MAX_REVIEW_CHARS + 1)},
        str(settings.MAX_REVIEW_CHARS),
        id="too-long",
    ),
    pytest.param({"review": "nul\x00byte"}, "review", id="nul"),
    pytest.param(["good"], "", id="body-list"),
    pytest.param('"good"', "", id="body-string"),
]
