"""scripts/mesh.sh end to end: the real services behind the generated Envoy gateway, over
HTTP and HTTPS, the A/B split, free static assets and our 429 as a user of `make mesh` sees
them, the model canary's route (the web app's calls of the model service go through the
model listener, x-model-variant: v2 reaches model v2), and a clean stop."""

import copy
import http.client
import json
import os
import signal
import socket
import ssl
import time

import pytest
import requests
import yaml

from tests.deploy.manifests import DEPLOY, free_port, one
from tests.support.servers import start_script, wait_for_output

pytestmark = pytest.mark.slow


def request(port: int, path: str, *, source: str, headers: dict | None = None, tls=None):
    address = ("127.0.0.1", port)
    if tls:
        conn = http.client.HTTPSConnection(
            *address, timeout=15, source_address=(source, 0), context=tls
        )
    else:
        conn = http.client.HTTPConnection(*address, timeout=15, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"Host": "localhost", **(headers or {})})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def istio_dir_with_https(meshgen, tmp_path):
    """The Istio objects as rendered, as one kustomization, with a 443 HTTPS server on the
    Gateway if it has none yet (the local mesh serves HTTPS from the Gateway's server)."""
    docs = copy.deepcopy(meshgen.render(DEPLOY / "istio"))
    servers = one(docs, "Gateway", "sentiment-gateway")["spec"]["servers"]
    if not [s for s in servers if s["port"]["protocol"] == "HTTPS"]:
        servers.append(
            {
                "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                "hosts": list(servers[0]["hosts"]),
                "tls": {"mode": "SIMPLE", "credentialName": "sentiment-tls"},
            }
        )
    directory = tmp_path / "istio"
    directory.mkdir()
    (directory / "objects.yaml").write_text(yaml.safe_dump_all(docs))
    (directory / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["objects.yaml"]}))
    return directory


def in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def check_model_route(ports: dict) -> None:
    """The model Service's route: the header picks the variant, as sentiment-model-vs says,
    and the web app's own model calls go through that listener."""

    def model(headers: dict) -> dict:
        status, _, body = request(
            ports["MESH_MODEL_PORT"], "/version", source="127.0.0.1", headers=headers
        )
        assert status == 200, body[:500]
        return json.loads(body)

    assert model({"x-model-variant": "v2"})["model_variant"] == "v2"
    assert model({"x-model-variant": "v2"})["service"] == "sentiment-model-v2"
    assert model({})["model_variant"] == "v1"
    assert model({"x-model-variant": "B"})["model_variant"] == "v1"
    # The web app itself calls the model service through that listener (MODEL_SERVICE_URL).
    stats = f"http://127.0.0.1:{ports['MESH_ADMIN_PORT']}/stats"

    def model_calls() -> int:
        (line,) = [
            line
            for line in requests.get(stats, timeout=5).text.splitlines()
            if line.startswith("http.model.downstream_rq_total: ")
        ]
        return int(line.split(": ")[1])

    before = model_calls()
    status, _, body = request(ports["MESH_PORT"], "/api/version", source="127.0.0.7")
    assert status == 200
    assert json.loads(body)["model_service"]["model_variant"] == "v1"
    assert model_calls() == before + 1


def test_mesh_script_routes_by_experiment_and_rate_limits(
    live_database_url, tmp_path, meshgen, tls_certificate
):
    ports = {
        name: free_port()
        for name in (
            "MESH_PORT",
            "MESH_TLS_PORT",
            "MESH_ADMIN_PORT",
            "MESH_MODEL_PORT",
            "MODELSVC_PORT",
            "MODELSVC_V2_PORT",
            "WEBAPP_PORT",
            "WEBAPP_V2_PORT",
            "WORKER_METRICS_PORT",
        )
    }
    cert, key = tls_certificate
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
        "MESH_TLS_CERT": str(cert),
        "MESH_TLS_KEY": str(key),
        "MESH_ISTIO_DIR": str(istio_dir_with_https(meshgen, tmp_path)),
    }
    env.pop("REDIS_URL", None)  # the worker and beat use the embedded broker
    log = tmp_path / "mesh.log"
    proc = start_script(["bash", "scripts/mesh.sh"], env, log)
    try:
        wait_for_output(proc, log, "mesh gateway", 150)
        gateway, tls = ports["MESH_PORT"], ssl.create_default_context(cafile=str(cert))

        def variant(source: str, headers: dict, **kwargs) -> str:
            status, _, body = request(
                kwargs.pop("port", gateway),
                "/api/version",
                source=source,
                headers=headers,
                **kwargs,
            )
            assert status == 200, body[:500]
            return json.loads(body)["app_variant"]

        assert variant("127.0.0.2", {"x-user-experiment": "B"}) == "v2"
        assert variant("127.0.0.3", {"Cookie": "x-user-experiment=B"}) == "v2"
        assert variant("127.0.0.4", {}) == "v1"
        assert variant("127.0.0.4", {}, port=ports["MESH_TLS_PORT"], tls=tls) == "v1"
        https_b = variant(
            "127.0.0.4", {"x-user-experiment": "B"}, port=ports["MESH_TLS_PORT"], tls=tls
        )
        assert https_b == "v2"

        check_model_route(ports)

        # Static assets cost no token: after 20 of them, 10 requests pass and the 11th is
        # refused with our error.
        for _ in range(20):
            status, _, _ = request(gateway, "/static/missing.css", source="127.0.0.5")
            assert status != 429
        statuses = [request(gateway, "/health/live", source="127.0.0.5")[0] for _ in range(10)]
        assert statuses == [200] * 10
        status, headers, body = request(gateway, "/health/live", source="127.0.0.5")
        assert status == 429
        assert headers["content-type"] == "application/json"
        assert int(headers["retry-after"]) > 0
        assert json.loads(body)["error"]["code"] == "rate_limited"

        # Over HTTPS too.
        statuses = [
            request(ports["MESH_TLS_PORT"], "/health/live", source="127.0.0.6", tls=tls)[0]
            for _ in range(11)
        ]
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
