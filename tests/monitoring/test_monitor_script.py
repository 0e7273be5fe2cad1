"""`make monitor` (scripts/monitor.sh): a local Prometheus scraping the services, with the
alert rules of the cluster."""

import signal
import subprocess
import time

import pytest
import requests

from tests.support.servers import REPO, free_port, wait_for

pytestmark = pytest.mark.slow


def test_monitor_script_scrapes_the_local_services_with_the_alert_rules(
    modelsvc_server, model_v2_server, tmp_path, alerts
):
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "VAR_DIR": str(tmp_path / "var"),
        "PROMETHEUS_PORT": str(port),
        "MODELSVC_PORT": str(modelsvc_server.port),
        "MODELSVC_V2_PORT": str(model_v2_server.port),
        # Nothing listens on these: their targets are simply down.
        "WEBAPP_PORT": str(free_port()),
        "WEBAPP_V2_PORT": str(free_port()),
        "WORKER_METRICS_PORT": str(free_port()),
        "MESH_ADMIN_PORT": str(free_port()),
        "SCRAPE_INTERVAL": "1s",
    }
    log = (tmp_path / "monitor.log").open("w")
    proc = subprocess.Popen(
        ["bash", "scripts/monitor.sh"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/-/ready", timeout=30, proc=proc)
        deadline = time.monotonic() + 30
        while True:
            targets = requests.get(url + "/api/v1/targets", timeout=5).json()["data"]
            active = targets["activeTargets"]
            health = {t["labels"]["job"]: t["health"] for t in active}
            models = {
                t["labels"]["version"]: t["health"]
                for t in active
                if t["labels"]["job"] == "sentiment-model-service"
            }
            if models == {"v1": "up", "v2": "up"}:
                break
            assert time.monotonic() < deadline, health
            time.sleep(0.5)
        assert set(health) == {
            "sentiment-model-service",
            "sentiment-app-service",
            "sentiment-worker",
            "envoy",
        }
        answer = requests.get(
            url + "/api/v1/query",
            params={"query": 'sentiment_model_ready{service="sentiment-model-service"}'},
            timeout=5,
        ).json()
        ready = {
            r["metric"]["version"]: r["metric"]["model_version"] for r in answer["data"]["result"]
        }
        assert set(ready) == {"v1", "v2"}, answer
        assert ready["v1"].startswith("1.") and ready["v2"].startswith("2."), ready
        groups = requests.get(url + "/api/v1/rules", timeout=5).json()["data"]["groups"]
        alerting = {r["name"] for g in groups for r in g["rules"] if r["type"] == "alerting"}
        assert alerting == set(alerts)
        assert (tmp_path / "var" / "monitoring" / "rules.yml").exists()
    finally:
        proc.send_signal(signal.SIGTERM)  # the script exec'd Prometheus: this stops it
        proc.wait(timeout=30)
    assert "Prometheus http://127.0.0.1:" in (tmp_path / "monitor.log").read_text()
