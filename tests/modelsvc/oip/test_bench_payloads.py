"""The benchmark's payloads and wrk script stay valid requests for the real server, so
`make bench` cannot silently measure error responses."""

import json
import shutil

import numpy as np
import pytest
import requests

from bench import payloads
from bench.run import WRK_LUA, all_workers_loaded, wrk

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def modelsvc_server(modelsvc_server):
    """The shared server once every worker has its model."""
    all_workers_loaded(modelsvc_server)
    return modelsvc_server


def test_every_inference_body_is_answered_with_probabilities(modelsvc_server):
    reviews = payloads.sample_reviews()
    for kind in ("oip-1", "oip-100"):
        bodies = payloads.bodies(kind, reviews)
        assert bodies
        for body in bodies[:5]:
            sent = json.loads(body)["inputs"][0]
            response = requests.post(
                modelsvc_server.url + payloads.INFER_PATH,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=30,
            )
            assert response.status_code == 200, response.text
            [output] = response.json()["outputs"]
            assert output["name"] == "predict_proba"
            assert output["shape"] == [len(sent["data"]), 2] == [sent["shape"][0], 2]
            proba = np.array(output["data"]).reshape(output["shape"])
            assert np.allclose(proba.sum(axis=1), 1.0)
    assert len(json.loads(payloads.bodies("oip-100", reviews)[0])["inputs"][0]["data"]) == 100


def test_analyze_bodies_are_valid_review_requests(modelsvc_server):
    body = payloads.bodies("analyze")[0]
    response = requests.post(
        modelsvc_server.url + "/analyze",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["sentiment"] in {"positive", "negative"}


@pytest.mark.parametrize("kind", ["oip-1", "oip-100"])
def test_the_wrk_script_posts_bodies_the_server_accepts(modelsvc_server, tmp_path, kind):
    assert shutil.which("wrk"), "wrk is needed (make system-deps)"
    assert WRK_LUA.exists()
    bodies = payloads.write_bodies(tmp_path / f"{kind}.jsonl", kind)
    result = wrk(modelsvc_server.url + payloads.INFER_PATH, bodies, connections=1, seconds=1)
    assert result["requests"] > 0
    assert result["errors"] == 0, result
    assert 0 < result["p50_ms"] <= result["p99_ms"]


def test_the_wrk_script_gets_without_bodies(modelsvc_server):
    result = wrk(modelsvc_server.url + payloads.LIVE_PATH, None, connections=1, seconds=1)
    assert result["requests"] > 0
    assert result["errors"] == 0, result


def test_the_wrk_script_counts_error_answers(modelsvc_server, tmp_path):
    """The check above means something: a body the server refuses shows up as errors."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"inputs": []}\n')
    result = wrk(modelsvc_server.url + payloads.INFER_PATH, bad, connections=1, seconds=1)
    assert result["requests"] > 0
    assert result["errors"] == result["requests"]
