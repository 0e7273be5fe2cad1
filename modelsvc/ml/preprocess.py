"""Text normalisation shared by training and serving.

The trained pipeline calls :func:`normalize_review` as its first step, so whatever is done here is
persisted inside ``model.joblib`` and the service can never preprocess differently from training.
"""

from __future__ import annotations

import re
import unicodedata

# Typographic apostrophes and quotes are common in pasted reviews; fold them so "wasn\u2019t" and
# "wasn't" become the same tokens.
_PUNCT_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
    }
)

# Irregular negated contractions whose stem is not simply "<word> + n't".
_IRREGULAR_NEGATIONS = {
    "won't": "will not",
    "can't": "can not",
    "cannot": "can not",
    "shan't": "shall not",
    "ain't": "is not",
}
_IRREGULAR_RE = re.compile(r"\b(" + "|".join(map(re.escape, _IRREGULAR_NEGATIONS)) + r")\b")
# "wasn't" -> "was not", also catches the apostrophe-less spelling people type ("wasnt").
_NT_RE = re.compile(
    r"\b(is|are|was|were|do|does|did|has|have|had|could|would|should|must|need|might)n'?t\b"
)
_SUFFIXES = (
    (re.compile(r"(?<=\w)'re\b"), " are"),
    (re.compile(r"(?<=\w)'ve\b"), " have"),
    (re.compile(r"(?<=\w)'ll\b"), " will"),
    (re.compile(r"(?<=\w)'m\b"), " am"),
)
_WHITESPACE_RE = re.compile(r"\s+")


# Control and format characters (NUL, zero-width joiners, bidi marks...) carry no sentiment and
# would otherwise glue words together or end up as odd character n-grams; lone surrogates could
# not even be encoded as UTF-8 downstream.
_STRIP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _strip_controls(text: str) -> str:
    # Almost every review is printable; skip the per-character walk for those.
    if text.isprintable():
        return text
    return "".join(" " if unicodedata.category(ch) in _STRIP_CATEGORIES else ch for ch in text)


def normalize_review(text: str) -> str:
    """Return the canonical form of a review: NFKC, lowercase, contractions expanded,
    control characters removed, whitespace folded. Total over ``str``: never raises."""
    text = unicodedata.normalize("NFKC", text)
    text = _strip_controls(text).translate(_PUNCT_FOLD).lower()
    text = _IRREGULAR_RE.sub(lambda m: _IRREGULAR_NEGATIONS[m.group(1)], text)
    text = _NT_RE.sub(r"\1 not", text)
    for pattern, replacement in _SUFFIXES:
        text = pattern.sub(replacement, text)
    return _WHITESPACE_RE.sub(" ", text).strip()
