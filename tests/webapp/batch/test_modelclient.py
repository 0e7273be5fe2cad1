"""The batch call to the model service against a real socket: answers it must refuse."""

import pytest

from webapp.batch import modelclient
from webapp.reviews import client


def test_a_full_answer_is_parsed(fake_model):
    fake_model.answer(
        200, {"results": [{"sentiment": "negative", "confidence": 0.25}], "model_version": "m-1"}
    )
    answer = modelclient.analyze_batch(["meh"], request_id="batch-1")
    assert answer == modelclient.BatchAnswer([modelclient.Classification("negative", 0.25)], "m-1")
    [sent] = fake_model.received
    assert (sent.path, sent.json()) == ("/analyze/batch", {"reviews": ["meh"]})


@pytest.mark.parametrize("model_version", ["v" * 65, "  ", None, 7])
def test_an_unusable_model_version_is_refused_as_the_web_app_does(fake_model, model_version):
    fake_model.answer(
        200,
        {"results": [{"sentiment": "positive", "confidence": 0.9}], "model_version": model_version},
    )
    with pytest.raises(modelclient.ModelServiceRejected) as caught:
        modelclient.analyze_batch(["fine"], request_id="batch-1")
    assert caught.value.reason == "bad_response"
    assert isinstance(caught.value, client.ModelServiceError)  # one error family for callers


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (503, modelclient.ModelServiceUnavailable),
        (429, modelclient.ModelServiceUnavailable),
        (400, modelclient.ModelServiceRejected),
    ],
)
def test_overload_is_waited_for_and_refusal_is_final(fake_model, status, error):
    fake_model.answer(status, {"error": {"code": "x", "message": "y"}})
    with pytest.raises(error):
        modelclient.analyze_batch(["fine"], request_id="batch-1")
