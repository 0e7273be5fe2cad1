"""Parsing and answering Open Inference Protocol requests, without a server or a model."""

import json
import re

import numpy as np
import pytest
from django.conf import settings
from drf_spectacular.drainage import get_override
from hypothesis import given
from hypothesis import strategies as st

from modelsvc.oip import protocol
from modelsvc.oip.protocol import ProtocolError, parse_infer_request
from modelsvc.oip.schema import ReviewTextField


def body(texts=("Great food.",), **overrides) -> bytes:
    tensor = {"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": list(texts)}
    tensor.update(overrides.pop("tensor", {}))
    payload = {"inputs": [tensor], **overrides}
    return json.dumps(payload).encode()


def rejected(raw: bytes) -> str:
    with pytest.raises(ProtocolError) as caught:
        parse_infer_request(raw)
    assert caught.value.status == 400
    return caught.value.message


def test_a_plain_request_gives_texts_all_outputs_and_no_id():
    request = parse_infer_request(body(["One.", "Two."]))
    assert request.texts == ["One.", "Two."]
    assert request.outputs == ("label", "confidence", "predict_proba")
    assert request.id is None


def test_nested_rows_of_shape_n_by_1_are_flattened():
    raw = body(["a b", "c d"], tensor={"shape": [2, 1], "data": [["a b"], ["c d"]]})
    assert parse_infer_request(raw).texts == ["a b", "c d"]


def test_requested_outputs_keep_their_order_once_each():
    raw = body(outputs=[{"name": "predict_proba"}, {"name": "label"}, {"name": "label"}])
    assert parse_infer_request(raw).outputs == ("predict_proba", "label")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{not json", "malformed JSON"),
        (b"", "malformed JSON"),
        (b"\xff\xfe", "malformed JSON"),
        (b'{"inputs": [{"name": "text", "data": ["x"], "shape": [1], "datatype": NaN}]}', "JSON"),
        (b"[]", "must be a JSON object"),
        (b"{}", "inputs must be a list"),
        (b'{"inputs": []}', "inputs must be a list"),
        (b'{"inputs": {"name": "text"}}', "inputs must be a list"),
        (b'{"inputs": ["text"]}', "inputs[0] must be a JSON object"),
        (body(id=7), "id must be a string"),
        (body(tensor={"name": "review"}), "inputs[0].name must be 'text'"),
        (body(tensor={"datatype": "FP32"}), "datatype must be 'BYTES'"),
        (body(tensor={"datatype": None}), "datatype must be 'BYTES'"),
        (body(tensor={"shape": [2]}), "shape says 2 elements but data has 1"),
        (body(tensor={"shape": [1, 2]}), "must be [N] or [N, 1]"),
        (body(tensor={"shape": [-1]}), "non-negative integers"),
        (body(tensor={"shape": [1.0]}), "non-negative integers"),
        (body(tensor={"shape": [True]}), "non-negative integers"),
        (body(tensor={"shape": "1"}), "non-negative integers"),
        (body(tensor={"shape": []}), "non-negative integers"),
        (body((), tensor={"shape": [0]}), "at least one review"),
        (body(tensor={"data": "Great food."}), "data must be a list of strings"),
        (body(tensor={"data": [5]}), "data[0]: must be a string"),
        (body(["ok", None], tensor={"data": ["ok", None]}), "data[1]: must be a string"),
        (body(["ok", ["x"]]), "data[1]: must be a string"),
        (body(tensor={"shape": [1, 1], "data": [["a", "b"]]}), "exactly one string"),
        (body(["   "]), "data[0]: must not be empty"),
        (body([""]), "data[0]: must not be empty"),
        (body(["a\x00b"]), "null characters"),
        (body(parameters={"content_type": "pd"}), "content_type 'pd' is not supported"),
        (body(tensor={"parameters": {"content_type": "np"}}), "content_type 'np'"),
        (body(parameters="str"), "parameters must be a JSON object"),
        (body(outputs=[{"name": "predict"}]), "outputs[0].name 'predict' is not an output"),
        (body(outputs=[{"name": {}}]), "outputs[0].name {} is not an output"),
        (body(outputs=[{"name": ["label"]}]), "is not an output"),
        (body(outputs=[{}]), "outputs[0].name None is not an output"),
        (body(outputs={"name": "label"}), "outputs must be a list"),
        (body(outputs=["label"]), "outputs[0] must be a JSON object"),
    ],
)
def test_bad_requests_are_refused_with_a_message(raw, fragment):
    assert fragment in rejected(raw)


def test_two_inputs_are_refused():
    payload = json.loads(body())
    payload["inputs"].append(payload["inputs"][0])
    assert "exactly one input" in rejected(json.dumps(payload).encode())


def test_review_length_and_batch_size_limits_match_the_rest_api():
    longest = "x" * settings.MAX_REVIEW_CHARS
    assert parse_infer_request(body([longest])).texts == [longest]
    assert "at most" in rejected(body([longest + "x"]))
    most = ["Fine."] * settings.MAX_BATCH_REVIEWS
    assert len(parse_infer_request(body(most)).texts) == settings.MAX_BATCH_REVIEWS
    assert f"at most {settings.MAX_BATCH_REVIEWS} reviews" in rejected(body([*most, "One more."]))


@given(st.text(max_size=40))
def test_the_documented_review_pattern_is_exactly_the_accepted_reviews(text):
    pattern = get_override(ReviewTextField, "field")["pattern"]
    try:
        accepted = parse_infer_request(body([text])).texts == [text]
    except ProtocolError:
        accepted = False
    assert accepted == bool(re.fullmatch(pattern, text))


def test_response_holds_the_requested_outputs_row_major():
    proba = np.array([[0.2, 0.8], [0.9, 0.1], [0.5, 0.5]])
    request = protocol.InferRequest(["a", "b", "c"], protocol._ALL_OUTPUTS, "req-1")
    answer = json.loads(protocol.infer_response(request, proba, "7"))
    assert answer["model_name"] == protocol.MODEL_NAME
    assert answer["model_version"] == "7"
    assert answer["id"] == "req-1"
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert [o["name"] for o in answer["outputs"]] == ["label", "confidence", "predict_proba"]
    assert outputs["label"]["datatype"] == "BYTES"
    assert outputs["label"]["shape"] == [3]
    # 0.5 counts as positive, as in the rest of the service.
    assert outputs["label"]["data"] == ["positive", "negative", "positive"]
    assert outputs["confidence"] == {
        "name": "confidence",
        "datatype": "FP64",
        "shape": [3],
        "parameters": {"content_type": "np"},
        "data": [0.8, 0.9, 0.5],
    }
    assert outputs["predict_proba"]["shape"] == [3, 2]
    assert outputs["predict_proba"]["data"] == [0.2, 0.8, 0.9, 0.1, 0.5, 0.5]


def test_response_without_a_request_id_gets_a_fresh_one():
    proba = np.array([[0.3, 0.7]])
    request = protocol.InferRequest(["a"], ("label",), None)
    first = json.loads(protocol.infer_response(request, proba, "1"))
    second = json.loads(protocol.infer_response(request, proba, "1"))
    assert first["id"] and second["id"] and first["id"] != second["id"]
    assert [o["name"] for o in first["outputs"]] == ["label"]


def test_the_error_body_is_the_protocols():
    assert json.loads(protocol.error_body("bad thing")) == {"error": "bad thing"}
