"""Loading review TSV files, and the errors that name the offending line."""

import hashlib
from pathlib import Path

import pytest

from devtools.data import A1
from modelsvc.ml.dataset import DatasetError, load_labelled_tsv, load_unlabelled_tsv


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "reviews.tsv"
    path.write_bytes(data)
    return path


def test_loads_texts_labels_and_checksum(tmp_path):
    data = b'Review\tLiked\nLoved it.\t1\n"Meh," she said.\t0\n'
    dataset = load_labelled_tsv(_write(tmp_path, data))
    assert dataset.texts == ["Loved it.", '"Meh," she said.']  # quotes are literal
    assert dataset.labels == [1, 0]
    assert dataset.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "data",
    [
        b"Review\tLiked\nGood\t1\nBad\t0",  # no final newline
        b"\xef\xbb\xbfReview\tLiked\nGood\t1\nBad\t0\n",  # UTF-8 BOM
        b"Review\tLiked\r\nGood\t1\r\nBad\t0\r\n",  # CRLF
    ],
)
def test_accepts_common_variants(tmp_path, data):
    dataset = load_labelled_tsv(_write(tmp_path, data))
    assert (dataset.texts, dataset.labels) == (["Good", "Bad"], [1, 0])


def test_keeps_unicode_text_as_written(tmp_path):
    data = "Review\tLiked\nCaf\u00e9 \U0001f355 tr\u00e8s bon\t1\n".encode()
    assert load_labelled_tsv(_write(tmp_path, data)).texts == ["Caf\u00e9 \U0001f355 tr\u00e8s bon"]


def test_loads_unlabelled_reviews(tmp_path):
    path = _write(tmp_path, b"Review\nGreat pho.\nCold fries.")
    assert load_unlabelled_tsv(path) == ["Great pho.", "Cold fries."]


@pytest.mark.parametrize(
    ("labelled", "data", "message"),
    [
        (True, b"", "empty file"),
        (True, b"\xef\xbb\xbf", "empty file"),
        (True, b"Text\tLabel\nGood\t1\n", "line 1: missing header"),
        (True, b"Good\t1\nBad\t0\n", "line 1: missing header"),
        (True, b"Review\tLiked\n", "line 1: header only"),
        (True, b"Review\tLiked\nGood\t1\nBad\n", "line 3: expected 2 tab-separated field(s)"),
        (True, b"Review\tLiked\nGood\t1\nBad\t0\t1\n", "line 3: expected 2 tab-separated field(s)"),
        # A blank line among the rows:
        (True, b"Review\tLiked\nGood\t1\n\nBad\t0\n", "line 3: expected 2"),
        (True, b"Review\tLiked\nGood\tyes\n", "line 2: label must be 0 or 1, found 'yes'"),
        (True, b"Review\tLiked\nGood\t1\nBad\t2\n", "line 3: label must be 0 or 1, found '2'"),
        (True, b"Review\tLiked\nGood\t1\nBad\t\n", "line 3: label must be 0 or 1, found ''"),
        (True, b"Review\tLiked\nGood\t1\n  \t0\n", "line 3: empty review"),
        (True, b"Review\tLiked\nGood\t1\nBad \xff food\t0\n", "line 3: not valid UTF-8"),
        (True, b"Review\tLiked\nGood\t1\nOK\t1\nBad \xc3\t0", "line 4: not valid UTF-8"),
        (False, b"", "empty file"),
        (False, b"Review\tLiked\nGood\t1\n", "line 1: missing header"),
        (False, b"Review\nGood\nBad\tfood\n", "line 3: expected 1 tab-separated field(s)"),
        (False, b"Review\nGood\n   \n", "line 3: empty review"),
        (False, b"Review\n\xfe\n", "line 2: not valid UTF-8"),
    ],
)
def test_malformed_file_names_line_and_problem(tmp_path, labelled, data, message):
    load = load_labelled_tsv if labelled else load_unlabelled_tsv
    with pytest.raises(DatasetError) as error:
        load(_write(tmp_path, data))
    assert message in str(error.value)


def test_missing_file_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="cannot read"):
        load_labelled_tsv(tmp_path / "absent.tsv")


def test_dataset_error_is_a_value_error():
    assert issubclass(DatasetError, ValueError)


def test_loads_the_public_a1_file():
    assert A1.is_file(), f"public data set missing at {A1}"
    dataset = load_labelled_tsv(A1)
    assert len(dataset.texts) == 900
    assert (dataset.labels.count(1), dataset.labels.count(0)) == (496, 404)
