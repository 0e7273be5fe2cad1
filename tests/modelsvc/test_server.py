"""The model service as it runs: gunicorn, first start on a fresh clone, real reviews."""

import re
import time

import requests

from tests.support.servers import start_server


def test_fresh_start_trains_the_default_model_and_answers(tmp_path):
    model_dir = tmp_path / "model"
    server = start_server("modelsvc", tmp_path, {"MODEL_DIR": str(model_dir)}, timeout=180)
    try:
        assert (model_dir / "model.joblib").exists()
        assert (model_dir / "metrics.json").exists()
        good = requests.post(
            server.url + "/analyze", json={"review": "Wonderful food, friendly staff!"}, timeout=5
        )
        bad = requests.post(
            server.url + "/analyze", json={"review": "Rude staff and cold food."}, timeout=5
        )
        assert good.json()["sentiment"] == "positive"
        assert bad.json()["sentiment"] == "negative"
        version = requests.get(server.url + "/version", timeout=5).json()
        assert version["model_version"] == good.json()["model_version"]
    finally:
        server.stop()

    # A second start finds the trained artifact and does not train again.
    before = (model_dir / "model.joblib").stat().st_mtime_ns
    server = start_server("modelsvc", tmp_path, {"MODEL_DIR": str(model_dir)})
    server.stop()
    assert (model_dir / "model.joblib").stat().st_mtime_ns == before


def test_refused_artifact_keeps_the_service_alive_but_not_ready(tmp_path):
    artifact = tmp_path / "model.joblib"
    artifact.write_bytes(b"not a model")
    env = {
        "MODEL_URL": f"file://{artifact}",
        "MODEL_SHA256": "0" * 64,
        "MODEL_CACHE_DIR": str(tmp_path / "cache"),
    }
    server = start_server("modelsvc", tmp_path, env, ready_path="/health/live")
    try:
        for _ in range(50):
            ready = requests.get(server.url + "/health/ready", timeout=5)
            if "checksum" in ready.text:
                break
            time.sleep(0.1)
        assert ready.status_code == 503
        assert "checksum mismatch" in ready.json()["error"]["message"]
    finally:
        server.stop()


def test_api_docs_page_loads_all_its_assets(modelsvc_server):
    page = requests.get(modelsvc_server.url + "/api/docs", timeout=5)
    assert page.status_code == 200
    assets = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text))
    assert assets, "the docs page names no assets"
    for asset in assets:
        assert requests.get(modelsvc_server.url + asset, timeout=5).status_code == 200, asset
