"""scripts/mesh.sh end to end: the real services behind the generated Envoy gateway, the A/B
split and the 429s as a user of `make mesh` sees them, and a clean stop."""

import http.client
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from tests.deploy.manifests import REPO, free_port

pytestmark = pytest.mark.slow


def request(port: int, path: str, *, source: str, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"Host": "localhost", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_mesh_script_routes_by_experiment_and_rate_limits(live_database_url, tmp_path):
    ports = {
        name: free_port()
        for name in (
            "MESH_PORT",
            "MESH_ADMIN_PORT",
            "MODELSVC_PORT",
            "WEBAPP_PORT",
            "WEBAPP_V2_PORT",
        )
    }
    env = {
        **os.environ,
        **{name: str(port) for name, port in ports.items()},
        "BIND_HOST": "127.0.0.1",
        "VAR_DIR": str(tmp_path / "var"),
        "APP_MODE": "test",
        "DATABASE_URL": live_database_url,
        "GUNICORN_WORKERS": "1",
        # No model is needed to route: point the model service at nothing so it does not
        # train one in the background (it stays live, just not ready).
        "MODEL_URL": f"http://127.0.0.1:{free_port()}/model.joblib",
    }
    env.pop("REDIS_URL", None)  # no Celery processes
    log = tmp_path / "mesh.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", "scripts/mesh.sh"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 150
        while "mesh gateway" not in log.read_text(errors="replace"):
            assert proc.poll() is None, f"mesh.sh exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"mesh.sh not up:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        gateway = ports["MESH_PORT"]

        def variant(source: str, headers: dict) -> str:
            status, body = request(gateway, "/api/version", source=source, headers=headers)
            assert status == 200, body[:500]
            return json.loads(body)["app_variant"]

        assert variant("127.0.0.2", {"x-user-experiment": "B"}) == "v2"
        assert variant("127.0.0.3", {"Cookie": "x-user-experiment=B"}) == "v2"
        assert variant("127.0.0.4", {}) == "v1"

        statuses = [request(gateway, "/health/live", source="127.0.0.5")[0] for _ in range(11)]
        assert statuses == [200] * 10 + [429]
    finally:
        proc.terminate()  # mesh.sh stops everything it started
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while any(in_use(p) for p in ports.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [name for name, port in ports.items() if in_use(port)]
