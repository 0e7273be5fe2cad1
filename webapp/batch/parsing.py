"""Reading an uploaded review file: UTF-8 text, CSV or TSV, with a ``Review`` column.

The delimiter is taken from the header line alone. Tab-separated files are read without
quoting (quotes in reviews are literal, as in the data set's dumps); comma- and
semicolon-separated files follow the usual CSV quoting. A file with a single ``Review``
column has no delimiter at all: each line is one review, commas included.

Nothing is ever decompressed; a file with NUL or other binary control bytes, or bytes that
are not UTF-8, is refused as "not a text file".
"""

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

REVIEW_COLUMN = "review"
# Text files hold tabs and line breaks, never other C0 control characters; binary and
# compressed files almost always do (zip and gzip headers are full of NUL bytes).
_BINARY = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# How many skipped-row line numbers are kept to show the user; the counts are always exact.
MAX_REPORTED_ROWS = 20


class UploadError(Exception):
    """An upload that cannot be analysed; ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class ParsedFile:
    # (row number, review): row 1 is the first line after the header.
    reviews: list[tuple[int, str]] = field(default_factory=list)
    skipped_empty: int = 0
    skipped_too_long: int = 0
    too_long_rows: list[int] = field(default_factory=list)


def decode_text(data: bytes) -> str:
    if not data:
        raise UploadError("empty_file", "The file is empty.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadError(
            "not_text", "This is not a text file: save it as UTF-8 CSV or TSV."
        ) from None
    if _BINARY.search(text):
        raise UploadError("not_text", "This is not a text file: it contains binary data.")
    return text


def _delimiter(header: str) -> str | None:
    for candidate in ("\t", ",", ";"):
        if candidate in header:
            return candidate
    return None


def _records(text: str, delimiter: str | None) -> Iterator[list[str]]:
    if delimiter is None or delimiter == "\t":
        lines = _LINE_BREAK.split(text)
        if lines and lines[-1] == "":
            lines.pop()  # the final line break ends the last row; it does not start one
        for line in lines:
            yield [line] if delimiter is None else line.split("\t")
        return
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        yield from reader
    except csv.Error as exc:
        raise UploadError(
            "malformed_csv", f"The CSV file is malformed near line {reader.line_num}: {exc}."
        ) from None


def parse_reviews(data: bytes, *, max_rows: int, max_chars: int) -> ParsedFile:
    """The reviews of an uploaded file, or :class:`UploadError` saying what is wrong.

    Empty rows and reviews longer than ``max_chars`` are skipped and counted, not fatal;
    more than ``max_rows`` non-empty rows refuses the whole file.
    """
    text = decode_text(data)
    header_line = _LINE_BREAK.split(text, maxsplit=1)[0]
    records = _records(text, _delimiter(header_line))
    header = next(records, [])
    names = [name.strip().lower() for name in header]
    if REVIEW_COLUMN not in names:
        found = ", ".join(repr(name.strip()) for name in header if name.strip()) or "nothing"
        raise UploadError(
            "missing_review_column",
            f"The first line must name a Review column (found {found}).",
        )
    column = names.index(REVIEW_COLUMN)
    parsed = ParsedFile()
    for row, record in enumerate(records, start=1):
        review = record[column] if column < len(record) else ""
        if not review.strip():
            parsed.skipped_empty += 1
            continue
        if len(review) > max_chars:
            parsed.skipped_too_long += 1
            if len(parsed.too_long_rows) < MAX_REPORTED_ROWS:
                parsed.too_long_rows.append(row)
            continue
        if len(parsed.reviews) >= max_rows:
            raise UploadError(
                "too_many_rows", f"The file has more than {max_rows:,} reviews; split it up."
            )
        parsed.reviews.append((row, review))
    if not parsed.reviews:
        raise UploadError("no_reviews", "The file has no reviews to analyse.")
    return parsed


# Spreadsheets run a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value
