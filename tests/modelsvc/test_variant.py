"""Two models side by side: a real service started as v2 on the embed model names itself and
its model in every answer, and v1 (the default) does the same with its own."""

import requests

OIP_REQUEST = {
    "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["Lovely food!"]}]
}


def _answers(url: str) -> dict[str, dict]:
    return {
        "version": requests.get(url + "/version", timeout=5).json(),
        "analyze": requests.post(url + "/analyze", json={"review": "Great!"}, timeout=5).json(),
        "batch": requests.post(
            url + "/analyze/batch", json={"reviews": ["Great!", "Awful."]}, timeout=5
        ).json(),
        "infer": requests.post(
            url + "/v2/models/sentiment/infer", json=OIP_REQUEST, timeout=5
        ).json(),
        "server": requests.get(url + "/v2", timeout=5).json(),
        "model": requests.get(url + "/v2/models/sentiment", timeout=5).json(),
    }


def _check(answers: dict[str, dict], variant: str, service: str) -> None:
    version = answers["version"]["model_version"]
    assert answers["version"]["service"] == service
    assert answers["server"]["name"] == service
    assert answers["model"]["versions"] == [version]
    for name in ("version", "analyze", "batch"):
        assert answers[name]["model_variant"] == variant, name
    for name in ("analyze", "batch", "infer"):
        assert answers[name]["model_version"] == version, name
    assert answers["infer"]["parameters"] == {"model_variant": variant}


def test_a_v2_service_says_so_in_every_answer(model_v2_server, embed_dir):
    answers = _answers(model_v2_server.url)
    _check(answers, "v2", "sentiment-model-v2")
    assert answers["version"]["model_version"].startswith("2.0.0+")
    assert answers["analyze"]["sentiment"] == "positive"


def test_the_default_service_is_v1(modelsvc_server):
    answers = _answers(modelsvc_server.url)
    _check(answers, "v1", "sentiment-model")
    assert answers["version"]["model_version"].startswith("1.0.0+")
