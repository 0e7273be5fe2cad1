"""Reading uploads: delimiters from the header, literal quotes in TSV, gzip, refusals."""

import gzip
import io
import zipfile

import pytest

from tests.support.servers import A1, A2
from webapp.batch.parsing import MAX_LINE_CHARS, UploadError, parse_reviews


def parse(data: bytes, *, max_rows: int = 10_000, max_chars: int = 5000, max_bytes=1 << 30):
    return parse_reviews(data, max_rows=max_rows, max_chars=max_chars, max_bytes=max_bytes)


def refusal(data: bytes, **limits) -> str:
    with pytest.raises(UploadError) as caught:
        parse(data, **limits)
    return caught.value.code


def test_the_fresh_dump_reads_as_100_reviews_with_literal_quotes():
    raw = A2.read_bytes()
    parsed = parse(raw)
    lines = raw.decode().splitlines()[1:]
    assert len(parsed.reviews) == 100
    assert [review for _, review in parsed.reviews] == lines
    assert [row for row, _ in parsed.reviews] == list(range(1, 101))
    assert any('"' in review for _, review in parsed.reviews)  # kept as written
    assert parsed.skipped_empty == parsed.skipped_too_long == 0


def test_tsv_takes_the_review_column_among_others_and_never_unquotes():
    parsed = parse(A1.read_bytes())
    assert len(parsed.reviews) == 900
    assert parsed.reviews[0] == (1, "Wow... Loved this place.")
    tsv = b'Liked\tReview\n1\t"Great," she said\n0\tsoggy "fries\n'
    assert [r for _, r in parse(tsv).reviews] == ['"Great," she said', 'soggy "fries']


def test_csv_follows_quoting_and_the_header_names_the_delimiter():
    csv_file = b'id,Review\n1,"Tasty, cheap, fast"\n2,"He said ""wow"""\n3,plain\n'
    assert [r for _, r in parse(csv_file).reviews] == [
        "Tasty, cheap, fast",
        'He said "wow"',
        "plain",
    ]
    semicolons = b"Review;stars\nGood food;5\n"
    assert parse(semicolons).reviews == [(1, "Good food")]


def test_a_single_column_file_keeps_commas_and_tabs_inside_reviews():
    # The header has no delimiter, so neither has any line: the whole line is the review.
    parsed = parse(b"review\nGood, cheap; quick\nSecond one\n")
    assert parsed.reviews == [(1, "Good, cheap; quick"), (2, "Second one")]


def test_bom_and_crlf_line_ends_are_fine():
    parsed = parse("\ufeffReview\r\nCafé crème\r\nDone\r\n".encode())
    assert parsed.reviews == [(1, "Café crème"), (2, "Done")]


def test_empty_and_over_long_rows_are_skipped_and_counted():
    data = "Review\tx\nfine\t1\n\n   \t2\n" + "y" * 51 + "\t3\nlast\t4\n\t5\n"
    parsed = parse(data.encode(), max_chars=50)
    assert parsed.reviews == [(1, "fine"), (5, "last")]
    assert parsed.skipped_empty == 3  # blank line, blank review, missing review
    assert parsed.skipped_too_long == 1
    assert parsed.too_long_rows == [4]


def test_a_short_row_counts_as_empty():
    parsed = parse(b"id\tReview\n1\tok\n2\n")
    assert parsed.reviews == [(1, "ok")]
    assert parsed.skipped_empty == 1


@pytest.mark.parametrize(
    "data",
    [
        b"Review\nfine\x00\n",
        "Review\nCaf\xe9\n".encode("latin-1"),
        b"\xff\xfeR\x00e\x00v\x00",  # UTF-16
        gzip.compress(b"Review\nbell\x07\n"),
        b"Review\nbell\x07\n",
        gzip.compress(b"Review\n" + b"a\n" * 1000)[:-30],
    ],
    ids=["nul", "latin-1", "utf-16", "gzip-control-char", "control-char", "gzip-cut-short"],
)
def test_binary_or_non_utf8_is_not_a_text_file(data):
    assert refusal(data) == "not_text"


def test_a_zip_bomb_is_refused_without_being_opened():
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("reviews.csv", b"Review\n" + b"0" * 50_000_000)
    assert len(packed.getvalue()) < 100_000  # 50 MB once unpacked
    assert refusal(packed.getvalue()) == "not_text"


def test_gzip_is_read_as_the_text_it_holds():
    raw = A1.read_bytes()
    assert parse(gzip.compress(raw)).reviews == parse(raw).reviews
    csv_file = b'id,Review\n1,"Tasty, cheap"\n'
    assert parse(gzip.compress(csv_file)).reviews == [(1, "Tasty, cheap")]


def test_a_gzip_bomb_stops_at_the_byte_limit_of_the_text():
    bomb = gzip.compress(b"Review\n" + b"0" * 50_000_000)
    assert len(bomb) < 100_000  # 50 MB once unpacked
    with pytest.raises(UploadError) as caught:
        parse(bomb, max_bytes=1_048_576)
    assert caught.value.code == "file_too_large"
    assert caught.value.status == 413
    assert caught.value.message == "The file is larger than 1 MB."  # the limit


def test_a_gzip_bomb_of_rows_stops_at_the_row_limit():
    bomb = gzip.compress(b"Review\n" + b"ok\n" * 5_000_000)
    assert refusal(bomb, max_rows=1000) == "too_many_rows"


def test_a_line_longer_than_any_review_is_skipped_without_being_held():
    tsv = b"Review\tx\nfine\t1\n" + b"y" * (MAX_LINE_CHARS * 3) + b"\t2\nlast\t3\n"
    parsed = parse(tsv)
    assert parsed.reviews == [(1, "fine"), (3, "last")]
    assert parsed.skipped_too_long == 1
    assert parsed.too_long_rows == [2]
    with pytest.raises(UploadError) as caught:
        parse(b"Review,x\nfine,1\n" + b"y" * (MAX_LINE_CHARS + 1) + b"\n")
    assert caught.value.code == "malformed_csv"
    assert "line 3" in caught.value.message


def test_a_malformed_csv_line_is_named():
    data = b'Review,x\nfine,1\n"ok",2\n"bad"x,3\n'
    with pytest.raises(UploadError) as caught:
        parse(data)
    assert caught.value.code == "malformed_csv"
    assert "line 4" in caught.value.message


def test_refusals_say_what_is_wrong():
    assert refusal(b"") == "empty_file"
    assert refusal(b"Text\tLiked\nfine\t1\n") == "missing_review_column"
    assert refusal(b"Review\n\n  \n") == "no_reviews"
    assert refusal(b"Review\n" + b"ok\n" * 6, max_rows=5) == "too_many_rows"
    assert refusal(b'Review,x\n"unclosed,1\n') == "malformed_csv"
    with pytest.raises(UploadError) as caught:
        parse(b"Text,Liked\nfine,1\n")
    assert "'Text', 'Liked'" in caught.value.message


def test_exactly_max_rows_is_accepted():
    assert len(parse(b"Review\n" + b"ok\n" * 5, max_rows=5).reviews) == 5
