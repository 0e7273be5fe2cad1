"""Loading review TSV files.

Format: UTF-8 (a BOM is accepted), a header line, one review per line, fields separated by a
tab, no quoting (quote characters are part of the text), the final newline optional, CRLF line
ends accepted. Labelled files have the header ``Review<TAB>Liked`` and a 0/1 label; unlabelled
files have the header ``Review``. Anything else raises :class:`DatasetError` naming the line.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

LABELLED_HEADER = ("Review", "Liked")
UNLABELLED_HEADER = ("Review",)
_SHOWN_CHARS = 40  # how much of an offending value an error message quotes


class DatasetError(ValueError):
    """A review file is malformed; the message names the line and the problem."""


@dataclass(frozen=True)
class Dataset:
    texts: list[str]
    labels: list[int]
    sha256: str  # of the file's bytes, so a model can be traced to the exact data it saw


def load_labelled_tsv(path: str | os.PathLike[str]) -> Dataset:
    data = _read_bytes(path)
    texts: list[str] = []
    labels: list[int] = []
    for line_no, fields in _rows(data, LABELLED_HEADER):
        review, label = fields
        if label.strip() not in ("0", "1"):
            raise DatasetError(f"line {line_no}: label must be 0 or 1, found {_show(label)}")
        texts.append(review)
        labels.append(int(label))
    return Dataset(texts=texts, labels=labels, sha256=hashlib.sha256(data).hexdigest())


def load_unlabelled_tsv(path: str | os.PathLike[str]) -> list[str]:
    return [fields[0] for _, fields in _rows(_read_bytes(path), UNLABELLED_HEADER)]


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from exc


def _rows(data: bytes, header: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every data row, after checking the encoding and the header."""
    text = _decode(data)
    if text == "":
        raise DatasetError("empty file: expected a header line " + _show("\t".join(header)))
    lines = text.split("\n")
    if lines[-1] == "":  # the final newline is optional
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    if tuple(lines[0].split("\t")) != header:
        raise DatasetError(
            f"line 1: missing header: expected {_show(chr(9).join(header))}, "
            f"found {_show(lines[0])}"
        )
    if len(lines) == 1:
        raise DatasetError("line 1: header only, the file has no reviews")
    rows = []
    for line_no, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DatasetError(
                f"line {line_no}: expected {len(header)} tab-separated field(s) "
                f"({', '.join(header)}), found {len(fields)}"
            )
        if not fields[0].strip():
            raise DatasetError(f"line {line_no}: empty review")
        rows.append((line_no, fields))
    return rows


def _decode(data: bytes) -> str:
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_no = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DatasetError(
            f"line {line_no}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at column {column})"
        ) from None


def _show(value: str) -> str:
    """A short, unambiguous rendering of a value for an error message."""
    if len(value) > _SHOWN_CHARS:
        value = value[:_SHOWN_CHARS] + "..."
    return repr(value)
