"""The model release loop on a real database: users' feedback, exported, retrains the model,
the retrained model qualifies, and it has learnt what the feedback said.

export_feedback -> train_model (corpus + export) -> qualify_model (against the released model)
"""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from devtools.data import A1, CORPUS
from modelsvc.artifact import load_trained
from modelsvc.ml.qualify import REPORT_NAME
from tests.webapp.reviews.factories import PredictionFactory

pytestmark = pytest.mark.django_db

REVIEW = "Honestly the wait for a table was worth it in the end."
# Other users' reviews saying the same: the training split is random, so any one review may be
# held out; a pattern several users corrected reaches the model whichever way the split falls.
SIMILAR = [
    "The wait for a table was worth it in the end.",
    "Honestly the long wait was worth it in the end.",
    "We waited for a table, and honestly it was worth it.",
    "Worth the wait for a table, honestly.",
    "The wait for our table was worth it in the end.",
    "Honestly, the wait for a table was worth it.",
    "In the end the wait for a table was worth it.",
]


def test_feedback_marking_a_review_wrong_moves_the_retrained_model_on_it(model_dir, tmp_path):
    released = load_trained(model_dir)
    before = float(released.pipeline.predict_proba([REVIEW])[0, 1])
    served = "positive" if before >= 0.5 else "negative"
    corrected = 0 if served == "positive" else 1
    for review in (REVIEW, *SIMILAR):
        PredictionFactory(review=review, sentiment=served, feedback=False)  # users said: wrong
    PredictionFactory(review="Lovely staff and great soup.", sentiment="positive", feedback=True)

    export = tmp_path / "feedback.tsv"
    call_command("export_feedback", "--out", str(export), stdout=StringIO())
    assert f"{REVIEW}\t{corrected}" in export.read_text(encoding="utf-8").splitlines()

    retrained = tmp_path / "retrained"
    call_command(
        "train_model",
        "--data",
        str(CORPUS),
        "--data",
        str(export),
        "--out",
        str(retrained),
        stdout=StringIO(),
    )
    manifest = json.loads((retrained / "manifest.json").read_text())
    assert [source["path"].rsplit("/", 1)[-1] for source in manifest["sources"]] == [
        CORPUS.name,
        export.name,
    ]

    after = float(load_trained(retrained).pipeline.predict_proba([REVIEW])[0, 1])
    toward = after - before if corrected == 1 else before - after
    assert toward > 0.05, (before, after, corrected)

    # The release gate: the retrained model qualifies against the released one.
    call_command(
        "qualify_model",
        "--model",
        str(retrained),
        "--baseline",
        str(model_dir),
        "--data",
        str(A1),
        stdout=StringIO(),
    )
    assert json.loads((retrained / REPORT_NAME).read_text())["qualified"]
