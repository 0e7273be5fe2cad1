"""Checks for the project's own labelled review corpus (modelsvc/ml/corpus/reviews.tsv)."""

from devtools.data import A1, CORPUS

MIN_ROWS = 600
MAX_IMBALANCE = 0.02


def _lines():
    text = CORPUS.read_text(encoding="utf-8")
    assert text.endswith("\n"), "corpus must end with a newline"
    return text[:-1].split("\n")


def _rows():
    return [line.split("\t") for line in _lines()[1:]]


def test_corpus_exists():
    assert CORPUS.is_file(), f"missing corpus file {CORPUS}"


def test_header():
    assert _lines()[0] == "Review\tLiked"


def test_every_line_has_two_tab_separated_fields():
    for number, fields in enumerate(_rows(), start=2):
        assert len(fields) == 2, f"line {number} has {len(fields)} fields"


def test_labels_are_binary():
    for number, fields in enumerate(_rows(), start=2):
        assert fields[-1] in {"0", "1"}, f"line {number} has label {fields[-1]!r}"


def test_no_empty_reviews():
    for number, fields in enumerate(_rows(), start=2):
        assert fields[0].strip(), f"line {number} has an empty review"


def test_no_leading_double_quote():
    for number, fields in enumerate(_rows(), start=2):
        assert not fields[0].startswith('"'), f"line {number} starts with a double quote"


def test_minimum_size():
    assert len(_rows()) >= MIN_ROWS


def test_balanced_labels():
    labels = [fields[-1] for fields in _rows()]
    share = labels.count("1") / len(labels)
    assert abs(share - 0.5) <= MAX_IMBALANCE, f"positive share is {share:.3f}"


def test_no_duplicate_reviews():
    seen = {}
    for number, fields in enumerate(_rows(), start=2):
        key = fields[0].strip().lower()
        assert key not in seen, f"line {number} duplicates line {seen[key]}"
        seen[key] = number


def test_no_review_copied_from_public_dataset():
    assert A1.is_file(), f"public data set missing at {A1}"
    a1_lines = A1.read_text(encoding="utf-8").splitlines()[1:]
    a1_reviews = {line.rsplit("\t", 1)[0].strip().lower() for line in a1_lines if line.strip()}
    copied = [fields[0] for fields in _rows() if fields[0].strip().lower() in a1_reviews]
    assert not copied, f"reviews copied from the public data set: {copied[:5]}"
