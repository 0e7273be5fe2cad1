"""Reading an uploaded review file: UTF-8 text, CSV or TSV, with a ``Review`` column, plain
or gzip-compressed.

The file is read as a stream, one line at a time, so its size never shows in memory. The
delimiter is taken from the header line alone. Tab-separated files are read without
quoting (quotes in reviews are literal, as in the data set's dumps); comma- and
semicolon-separated files follow the usual CSV quoting. A file with a single ``Review``
column has no delimiter at all: each line is one review, commas included.

A gzip file is decompressed as it is read, and the byte limit applies to what comes out,
so a small file that unpacks to gigabytes (a gzip bomb) stops at the limit. Other archives
are never opened: a file with NUL or other binary control bytes, or bytes that are not
UTF-8, is refused as "not a text file".
"""

import csv
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

REVIEW_COLUMN = "review"
GZIP_MAGIC = b"\x1f\x8b"
# Text files hold tabs and line breaks, never other C0 control characters; binary and
# compressed files almost always do (zip and gzip headers are full of NUL bytes).
_BINARY = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_LINE_END = re.compile(r"(\r\n|\r|\n)$")
# How many skipped-row line numbers are kept to show the user; the counts are always exact.
MAX_REPORTED_ROWS = 20
_READ_SIZE = 1 << 16
# A physical line longer than this is not read into memory: in a TSV it is a row too long
# (skipped and counted), in a CSV a malformed line. Far above any review the model takes.
MAX_LINE_CHARS = 1 << 20


class UploadError(Exception):
    """An upload that cannot be analysed; ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class Skipped:
    """What the parser left out; filled in while its rows are being read."""

    empty: int = 0
    too_long: int = 0
    too_long_rows: list[int] = field(default_factory=list)


KB = 1024
MB = KB * KB


def readable_size(size: int) -> str:
    if size >= MB:
        return f"{size / MB:.3g} MB"
    if size >= KB:
        return f"{size / KB:.3g} KB"
    return f"{size} bytes"


def too_large(limit: int) -> UploadError:
    return UploadError(
        "file_too_large", f"The file is larger than {readable_size(limit)}.", status=413
    )


class _Limited(io.RawIOBase):
    """The bytes of ``source`` (decompressed when it is gzip), refused past ``limit``."""

    def __init__(self, source: IO[bytes] | gzip.GzipFile, limit: int):
        self._source = source
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._source.read(min(len(buffer), _READ_SIZE))
        except (OSError, EOFError, zlib.error):  # gzip.BadGzipFile is an OSError
            raise UploadError("not_text", "The gzip file is damaged or cut short.") from None
        self._read += len(data)
        if self._read > self._limit:
            raise too_large(self._limit)
        buffer[: len(data)] = data
        return len(data)


def open_text(source: IO[bytes], *, max_bytes: int) -> IO[str]:
    """The upload as text, gzip decompressed on the fly; at most ``max_bytes`` of it."""
    start = source.read(2)
    source.seek(0)
    if not start:
        raise UploadError("empty_file", "The file is empty.")
    raw: IO[bytes] | gzip.GzipFile = (
        gzip.GzipFile(fileobj=source, mode="rb") if start == GZIP_MAGIC else source
    )
    buffered = io.BufferedReader(_Limited(raw, max_bytes), buffer_size=_READ_SIZE)
    # newline="" keeps line ends as written: CSV needs them, the TSV reader strips them.
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")


def _lines(text: IO[str]) -> Iterator[str | None]:
    """The physical lines, line ends kept; None for a line over MAX_LINE_CHARS, read past."""
    try:
        while line := text.readline(MAX_LINE_CHARS):
            if len(line) == MAX_LINE_CHARS and not _LINE_END.search(line):
                while (rest := text.readline(MAX_LINE_CHARS)) and not _LINE_END.search(rest):
                    pass
                yield None
                continue
            if _BINARY.search(line):
                raise UploadError("not_text", "This is not a text file: it contains binary data.")
            yield line
    except UnicodeDecodeError:
        raise UploadError(
            "not_text", "This is not a text file: save it as UTF-8 CSV or TSV."
        ) from None


def _delimiter(header: str) -> str | None:
    for candidate in ("\t", ",", ";"):
        if candidate in header:
            return candidate
    return None


def _csv_lines(lines: Iterator[str | None]) -> Iterator[str]:
    for number, line in enumerate(lines, start=1):
        if line is None:
            raise UploadError(
                "malformed_csv",
                f"The CSV file is malformed at line {number}: "
                f"longer than {MAX_LINE_CHARS:,} characters.",
            )
        yield line


def _records(lines: Iterator[str | None], delimiter: str | None) -> Iterator[list[str] | None]:
    """The fields of each record, the header first; None for an over-long TSV line."""
    if delimiter is None or delimiter == "\t":
        for line in lines:
            if line is None:
                yield None
                continue
            text = _LINE_END.sub("", line)
            yield [text] if delimiter is None else text.split("\t")
        return
    reader = csv.reader(_csv_lines(lines), delimiter=delimiter, strict=True)
    try:
        yield from reader
    except csv.Error as exc:
        raise UploadError(
            "malformed_csv", f"The CSV file is malformed at line {reader.line_num}: {exc}."
        ) from None


def _header_column(header: list[str]) -> int:
    names = [name.strip().lower() for name in header]
    if REVIEW_COLUMN not in names:
        found = ", ".join(repr(name.strip()) for name in header if name.strip()) or "nothing"
        raise UploadError(
            "missing_review_column",
            f"The first line must name a Review column (found {found}).",
        )
    return names.index(REVIEW_COLUMN)


def read_reviews(
    source: IO[bytes], skipped: Skipped, *, max_rows: int, max_chars: int, max_bytes: int
) -> Iterator[tuple[int, str]]:
    """(row number, review) of each usable row of an uploaded file, read as a stream; row 1
    is the first record after the header. Raises :class:`UploadError` (while iterating)
    saying what is wrong.

    Empty rows and reviews longer than ``max_chars`` are skipped and counted in
    ``skipped``, not fatal; more than ``max_rows`` reviews, or more than ``max_bytes`` of
    text, refuses the whole file.
    """
    lines = _lines(open_text(source, max_bytes=max_bytes))
    first = next(lines, "")
    if first is None:
        raise UploadError("missing_review_column", "The first line must name a Review column.")
    delimiter = _delimiter(_LINE_END.sub("", first))
    records = _records(_chain(first, lines), delimiter)
    header = next(records) or []
    column = _header_column(header)
    stored = 0
    for row, record in enumerate(records, start=1):
        if record is None:
            _skip_too_long(skipped, row)
            continue
        review = record[column] if column < len(record) else ""
        if not review.strip():
            skipped.empty += 1
            continue
        if len(review) > max_chars:
            _skip_too_long(skipped, row)
            continue
        if stored >= max_rows:
            raise UploadError(
                "too_many_rows", f"The file has more than {max_rows:,} reviews; split it up."
            )
        stored += 1
        yield row, review
    if not stored:
        raise UploadError("no_reviews", "The file has no reviews to analyse.")


def _skip_too_long(skipped: Skipped, row: int) -> None:
    skipped.too_long += 1
    if len(skipped.too_long_rows) < MAX_REPORTED_ROWS:
        skipped.too_long_rows.append(row)


def _chain(first: str, rest: Iterator[str | None]) -> Iterator[str | None]:
    yield first
    yield from rest


@dataclass
class ParsedFile:
    # (row number, review): row 1 is the first line after the header.
    reviews: list[tuple[int, str]] = field(default_factory=list)
    skipped_empty: int = 0
    skipped_too_long: int = 0
    too_long_rows: list[int] = field(default_factory=list)


def parse_reviews(
    data: bytes, *, max_rows: int, max_chars: int, max_bytes: int = 1 << 62
) -> ParsedFile:
    """:func:`read_reviews` of a file held in memory, all at once (small files, tests)."""
    skipped = Skipped()
    reviews = list(
        read_reviews(
            io.BytesIO(data), skipped, max_rows=max_rows, max_chars=max_chars, max_bytes=max_bytes
        )
    )
    return ParsedFile(reviews, skipped.empty, skipped.too_long, skipped.too_long_rows)
