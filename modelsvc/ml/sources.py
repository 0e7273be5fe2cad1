"""Training data from several labelled TSV files, merged, de-duplicated and traceable.

A review that appears in more than one place is kept once (compared without case and
surrounding or repeated white space); the label of its *last* occurrence wins, so a later
source (users' feedback exported after the corpus) corrects an earlier one. Every file's
SHA-256 goes into the manifest, and the held-out split is recorded by the hashes of its
reviews, so qualification can rebuild exactly the reviews the model never saw.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from modelsvc.ml.dataset import Dataset, DatasetError, load_labelled_tsv


@dataclass(frozen=True)
class Source:
    path: str
    sha256: str
    rows: int


@dataclass(frozen=True)
class Merged:
    texts: list[str]
    labels: list[int]
    sources: list[Source]
    sha256: str  # the one file's checksum, or one over every file's checksum in order
    duplicates: int


def review_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def text_hash(text: str) -> str:
    """A review's identity in the manifest: its text never leaves the training data."""
    return hashlib.sha256(review_key(text).encode("utf-8")).hexdigest()[:20]


def load_one(path: str | os.PathLike[str]) -> Dataset:
    """A labelled TSV, with errors that name the file as well as the line."""
    name = os.fspath(path)
    try:
        dataset = load_labelled_tsv(path)
    except DatasetError as exc:
        message = str(exc)
        raise DatasetError(message if message.startswith(name) else f"{name}: {message}") from None
    return dataset


def load_sources(paths: Sequence[str | os.PathLike[str]]) -> Merged:
    if not paths:
        raise DatasetError("no training data given")
    merged: dict[str, tuple[str, int]] = {}
    sources = []
    seen = 0
    for path in paths:
        dataset = load_one(path)
        sources.append(Source(os.fspath(path), dataset.sha256, len(dataset.texts)))
        for text, label in zip(dataset.texts, dataset.labels, strict=True):
            key = review_key(text)
            merged.pop(key, None)  # re-inserted: the last occurrence decides label and place
            merged[key] = (text, label)
            seen += 1
    texts = [text for text, _ in merged.values()]
    labels = [label for _, label in merged.values()]
    if len(sources) == 1:
        digest = sources[0].sha256
    else:
        digest = hashlib.sha256(" ".join(s.sha256 for s in sources).encode()).hexdigest()
    return Merged(texts, labels, sources, digest, duplicates=seen - len(texts))


def held_out_rows(paths: Sequence[str | os.PathLike[str]], hashes: Sequence[str]) -> Merged:
    """The reviews of ``paths`` whose hashes are ``hashes`` (a manifest's held-out split)."""
    merged = load_sources(paths)
    wanted = set(hashes)
    rows = [
        (t, y) for t, y in zip(merged.texts, merged.labels, strict=True) if text_hash(t) in wanted
    ]
    if len(rows) != len(wanted):
        raise DatasetError(
            f"the data holds {len(rows)} of the {len(wanted)} held-out reviews the manifest records"
        )
    return Merged([t for t, _ in rows], [y for _, y in rows], merged.sources, merged.sha256, 0)


def display_path(path: str) -> str:
    """A source's path as recorded: relative to the working folder when inside it."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(resolved)
