"""export_feedback: feedback-labelled reviews as training data the training code can read."""

import pytest
from django.core.management import CommandError, call_command

from tests.webapp.reviews.factories import PredictionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def feedback():
    for review, sentiment, correct in [
        ("Great tacos, friendly staff!", "positive", True),  # right: stays 1
        ("Great, another hour of waiting.", "positive", False),  # wrong: becomes 0
        ("Not bad at all", "negative", False),  # wrong: becomes 1
        ("Cold fries.", "negative", True),  # right: stays 0
        ("Never asked about this one.", "positive", None),  # no feedback: left out
        ('Tabs\tand\r\nnew lines\u2028and "quotes" — crème 🍮', "positive", True),
    ]:
        PredictionFactory(review=review, sentiment=sentiment, feedback=correct)


def test_export_writes_the_training_format(feedback, tmp_path):
    out = tmp_path / "exports" / "feedback.tsv"
    call_command("export_feedback", "--out", str(out))
    lines = out.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "Review\tLiked"
    assert lines[1:] == [
        "Great tacos, friendly staff!\t1",
        "Great, another hour of waiting.\t0",
        "Not bad at all\t1",
        "Cold fries.\t0",
        'Tabs and new lines and "quotes" — crème 🍮\t1',
        "",
    ]
    assert not list(out.parent.glob("*.partial"))


def test_the_training_code_reads_the_export(feedback, tmp_path):
    from modelsvc.ml.dataset import load_labelled_tsv

    out = tmp_path / "feedback.tsv"
    call_command("export_feedback", "--out", str(out))
    data = load_labelled_tsv(out)
    assert list(zip(data.texts, data.labels, strict=True)) == [
        ("Great tacos, friendly staff!", 1),
        ("Great, another hour of waiting.", 0),
        ("Not bad at all", 1),
        ("Cold fries.", 0),
        ('Tabs and new lines and "quotes" — crème 🍮', 1),
    ]


def test_export_with_no_feedback_writes_just_the_header(db, tmp_path):
    out = tmp_path / "empty.tsv"
    call_command("export_feedback", "--out", str(out))
    assert out.read_text() == "Review\tLiked\n"


def test_export_to_an_unwritable_place_fails_cleanly(feedback, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(CommandError):
        call_command("export_feedback", "--out", str(blocker / "sub" / "out.tsv"))
