"""The Open Inference Protocol endpoints of the model service, through Django's full stack."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from django.conf import settings
from django.test import Client

from bench import payloads
from modelsvc import serving
from modelsvc.oip import protocol

pytestmark = pytest.mark.urls("modelsvc.urls")

INFER = "/v2/models/sentiment/infer"
REVIEWS = [
    "The food was delicious and the staff were lovely. Highly recommend!",
    "Cold, bland food and a rude waiter. Never coming back.",
    "Great pizza!",
]


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def no_model():
    with serving.override(None):
        yield


def infer_request(texts, outputs=None, **extra) -> dict:
    payload = {
        "inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}],
        **extra,
    }
    if outputs is not None:
        payload["outputs"] = [{"name": name} for name in outputs]
    return payload


def post(client, body, path=INFER, content_type="application/json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type)


def assert_oip_error(response, status: int) -> str:
    """Errors under /v2 are exactly the protocol's: {"error": "<message>"}."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Content-Length"] == str(len(response.content))
    body = response.json()
    assert list(body) == ["error"]
    assert isinstance(body["error"], str) and body["error"]
    return body["error"]


def test_mlserver_request_shape_returns_the_in_process_probabilities(client, loaded_model):
    """The request MLServer documents for its scikit-learn runtime (the benchmark's, sent to
    both servers) works here unchanged."""
    response = post(client, payloads.oip_request(REVIEWS))
    assert response.status_code == 200, response.content
    # A sized body: gunicorn need not frame it in chunks.
    assert response["Content-Length"] == str(len(response.content))
    body = response.json()
    assert body["model_name"] == "sentiment"
    assert body["model_version"] == loaded_model.version
    [output] = body["outputs"]
    assert output["name"] == "predict_proba"
    assert output["datatype"] == "FP64"
    assert output["shape"] == [len(REVIEWS), 2]
    expected = loaded_model.pipeline.predict_proba(REVIEWS)
    assert np.array(output["data"]).reshape(output["shape"]).tolist() == expected.tolist()


def test_all_outputs_by_default_agree_with_the_rest_api(client, loaded_model):
    response = post(client, infer_request(REVIEWS, id="batch-7"))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "batch-7"
    outputs = {o["name"]: o for o in body["outputs"]}
    assert list(outputs) == ["label", "confidence", "predict_proba"]
    assert outputs["label"] == {
        "name": "label",
        "datatype": "BYTES",
        "shape": [3],
        "parameters": {"content_type": "str"},
        "data": ["positive", "negative", "positive"],
    }
    rest = client.post(
        "/analyze/batch", {"reviews": REVIEWS}, content_type="application/json"
    ).json()
    assert outputs["label"]["data"] == [r["sentiment"] for r in rest["results"]]
    assert outputs["confidence"]["data"] == pytest.approx(
        [r["confidence"] for r in rest["results"]], abs=1e-6
    )
    proba = np.array(outputs["predict_proba"]["data"]).reshape(3, 2)
    assert proba.sum(axis=1) == pytest.approx([1, 1, 1])


def test_output_selection_returns_only_what_was_asked(client, loaded_model):
    body = post(client, infer_request(REVIEWS[:1], outputs=["confidence", "label"])).json()
    assert [o["name"] for o in body["outputs"]] == ["confidence", "label"]
    assert body["outputs"][0]["shape"] == [1]
    assert isinstance(body["id"], str) and body["id"]


def test_versioned_paths_serve_the_loaded_version_only(client, loaded_model):
    versioned = f"/v2/models/sentiment/versions/{loaded_model.version}"
    response = post(client, infer_request(["Lovely."]), path=f"{versioned}/infer")
    assert response.status_code == 200
    assert response.json()["model_version"] == loaded_model.version
    assert client.get(versioned).json()["versions"] == [loaded_model.version]
    assert client.get(f"{versioned}/ready").json() == {"name": "sentiment", "ready": True}
    message = assert_oip_error(
        post(client, infer_request(["Lovely."]), path="/v2/models/sentiment/versions/0.0.0/infer"),
        404,
    )
    assert "0.0.0" in message
    assert_oip_error(client.get("/v2/models/sentiment/versions/0.0.0/ready"), 404)


def test_server_and_model_metadata(client, loaded_model):
    server = client.get("/v2").json()
    assert server == {"name": "sentiment-model", "version": settings.APP_VERSION, "extensions": []}
    model = client.get("/v2/models/sentiment").json()
    assert model == {
        "name": "sentiment",
        "versions": [loaded_model.version],
        "platform": "sklearn",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "confidence", "datatype": "FP64", "shape": [-1]},
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]},
        ],
    }


def test_health_when_ready(client, loaded_model):
    assert client.get("/v2/health/live").json() == {"live": True}
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True}
    model_ready = client.get("/v2/models/sentiment/ready")
    assert model_ready.status_code == 200
    assert model_ready.json() == {"name": "sentiment", "ready": True}
    assert client.head("/v2/health/live").status_code == 200


def test_health_while_the_model_is_loading(client, no_model):
    assert client.get("/v2/health/live").status_code == 200
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 503 and ready.json() == {"ready": False}
    assert "not ready" in assert_oip_error(client.get("/v2/models/sentiment/ready"), 503)
    assert_oip_error(client.get("/v2/models/sentiment"), 503)
    assert "loading" in assert_oip_error(post(client, infer_request(["Fine."])), 503)


@pytest.mark.parametrize(
    "body",
    [
        "{malformed",
        b"\xff\xfe not utf-8",
        "",
        "[]",
        {"inputs": []},
        {"outputs": [{"name": "label"}]},
        infer_request(["Tasty."]) | {"inputs": [{"name": "text", "shape": [1], "data": ["x"]}]},
        {"inputs": [{"name": "text", "shape": [1], "datatype": "FP32", "data": [1.5]}]},
        {"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["only one"]}]},
        {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [42]}]},
        {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [{"a": 1}]}]},
        {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [" "]}]},
        {"inputs": [{"name": "texts", "shape": [1], "datatype": "BYTES", "data": ["x"]}]},
        infer_request(["Tasty."], outputs=["sentiment"]),
        infer_request(["Tasty."], parameters={"content_type": "pd"}),
        infer_request(["Tasty."], id=["not", "a", "string"]),
    ],
)
def test_bad_input_is_a_400_in_the_protocols_error_shape(client, loaded_model, body):
    assert_oip_error(post(client, body), 400)


def test_too_many_reviews_is_a_400(client, loaded_model):
    texts = ["Nice."] * (settings.MAX_BATCH_REVIEWS + 1)
    message = assert_oip_error(post(client, infer_request(texts)), 400)
    assert str(settings.MAX_BATCH_REVIEWS) in message


def test_an_oversize_body_is_a_413(client, loaded_model, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert_oip_error(post(client, infer_request(["x" * 2000])), 413)


def test_binary_tensor_extension_is_refused(client, loaded_model):
    response = client.post(
        INFER,
        data=json.dumps(infer_request(["Fine."])),
        content_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": "60"},
    )
    assert "binary" in assert_oip_error(response, 400)


def test_content_type_is_not_required(client, loaded_model):
    body = json.dumps(infer_request(["Fine."]))
    response = client.generic("POST", INFER, body, content_type="")
    assert response.status_code == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_says_it_is_not_json_is_415(client, loaded_model, content_type):
    response = post(client, json.dumps(infer_request(["Fine."])), content_type=content_type)
    assert content_type in assert_oip_error(response, 415)


def test_unknown_model_and_unknown_paths_are_404(client, loaded_model):
    assert "'nope'" in assert_oip_error(
        post(client, infer_request(["x"]), "/v2/models/nope/infer"), 404
    )
    assert_oip_error(client.get("/v2/models/nope"), 404)
    assert_oip_error(client.get("/v2/models/nope/ready"), 404)
    assert_oip_error(client.get("/v2/repository/index"), 404)
    assert_oip_error(client.get("/v2/models/sentiment/explain"), 404)


def test_wrong_method_is_a_405_naming_the_allowed_ones(client, loaded_model):
    response = client.get(INFER)
    assert_oip_error(response, 405)
    assert response["Allow"] == "POST"
    response = client.post("/v2/health/ready")
    assert_oip_error(response, 405)
    assert response["Allow"] == "GET, HEAD"
    assert_oip_error(client.delete("/v2/models/sentiment"), 405)
    assert_oip_error(client.options(INFER), 405)


def test_the_model_name_can_be_changed(client, loaded_model, monkeypatch):
    monkeypatch.setattr(protocol, "MODEL_NAME", "reviews")
    response = post(client, infer_request(["Great!"]), "/v2/models/reviews/infer")
    assert response.status_code == 200
    assert response.json()["model_name"] == "reviews"
    assert client.get("/v2/models/reviews").json()["name"] == "reviews"
    assert_oip_error(post(client, infer_request(["Great!"])), 404)


def test_the_model_name_comes_from_the_environment():
    code = (
        "import django; django.setup(); from modelsvc.oip import protocol; "
        "print(protocol.MODEL_NAME)"
    )
    env = {
        **os.environ,
        "MODEL_NAME": "yelp-sentiment",
        "DJANGO_SETTINGS_MODULE": "modelsvc.settings",
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=settings.BASE_DIR,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "yelp-sentiment"


def test_predictions_are_counted_like_the_rest_apis(client, loaded_model):
    from prometheus_client import REGISTRY

    def counted(sentiment: str) -> float:
        labels = {"model_version": loaded_model.version, "sentiment": sentiment}
        return REGISTRY.get_sample_value("sentiment_model_predictions_total", labels) or 0.0

    before = counted("positive"), counted("negative")
    assert post(client, infer_request(REVIEWS)).status_code == 200
    assert counted("positive") == before[0] + 2
    assert counted("negative") == before[1] + 1


def test_the_endpoints_are_in_the_openapi_schema(client):
    response = client.get("/api/schema", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in (
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/{name}",
        "/v2/models/{name}/ready",
        "/v2/models/{name}/versions/{version}",
    ):
        assert "get" in paths[path], path
    for path in ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"):
        operation = paths[path]["post"]
        assert set(operation["responses"]) == {"200", "400", "404", "413", "415", "503"}
        body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert body.startswith("#/components/schemas/InferenceRequest")
    error = schema["components"]["schemas"]["InferenceErrorResponse"]
    assert error["properties"]["error"]["type"] == "string"
