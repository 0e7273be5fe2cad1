"""A corrupted or tampered model artifact is never loaded, at the system level: a real
model service downloading its release from a local HTTP server.

The tampered files are pickles that would create a marker file if they were ever
unpickled, so "never loaded" is observed, not assumed."""

import hashlib
import pickle
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.reliability.harness import wait_until
from tests.support.artifacts import write_tiny_artifact
from tests.support.servers import start_server

pytestmark = pytest.mark.slow


class _Booby:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def booby_trapped_artifact(marker: Path) -> bytes:
    return pickle.dumps({"format": 1, "version": "evil", "pipeline": _Booby(marker)})


class ReleaseServer:
    """Serves release assets by path and counts the downloads."""

    def __init__(self):
        self.files: dict[str, tuple[int, dict, bytes]] = {}
        self.hits: dict[str, int] = {}
        routes, hits = self.files, self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hits[self.path] = hits.get(self.path, 0) + 1
                status, headers, body = routes.get(self.path, (404, {}, b"not found"))
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def releases():
    server = ReleaseServer()
    yield server
    server.close()


@pytest.fixture
def release(tmp_path):
    path = tmp_path / "release" / "model.joblib"
    sha = write_tiny_artifact(path, "release-7")
    return path.read_bytes(), sha


def model_env(tmp_path, url: str, sha: str) -> dict:
    return {
        "MODEL_URL": url,
        "MODEL_SHA256": sha,
        "MODEL_VERSION": "release-7",
        "MODEL_CACHE_DIR": str(tmp_path / "cache"),
        "MODEL_DIR": str(tmp_path / "no-local-model"),
    }


def not_ready_reason(server) -> str:
    def refused():
        answer = requests.get(server.url + "/health/ready", timeout=5)
        return answer.status_code == 503 and "loading" not in answer.text and answer.json()

    return wait_until(refused, 30, what="a refusal on /health/ready")["error"]["message"]


def test_a_tampered_cache_file_is_fetched_again(tmp_path, releases, release):
    data, sha = release
    releases.files["/v7/model.joblib"] = (200, {}, data)
    env = model_env(tmp_path, releases.url("/v7/model.joblib"), sha)
    server = start_server("modelsvc", tmp_path, env)
    server.stop()
    assert releases.hits["/v7/model.joblib"] == 1
    (cached,) = (tmp_path / "cache").rglob("model.joblib")

    marker = tmp_path / "unpickled"
    cached.write_bytes(booby_trapped_artifact(marker))
    server = start_server("modelsvc", tmp_path, env)
    try:
        assert releases.hits["/v7/model.joblib"] == 2
        assert hashlib.sha256(cached.read_bytes()).hexdigest() == sha
        version = requests.get(server.url + "/version", timeout=5).json()
        assert version["model_sha256"] == sha and version["model_version"] == "release-7"
        answer = requests.post(server.url + "/analyze", json={"review": "great food"}, timeout=5)
        assert answer.status_code == 200
    finally:
        server.stop()
    assert not marker.exists()


def test_a_tampered_release_is_refused_and_never_loaded(tmp_path, releases, release):
    _, sha = release
    marker = tmp_path / "unpickled"
    releases.files["/v7/model.joblib"] = (200, {}, booby_trapped_artifact(marker))
    env = model_env(tmp_path, releases.url("/v7/model.joblib"), sha)
    server = start_server("modelsvc", tmp_path, env, ready_path="/health/live")
    try:
        assert "checksum mismatch" in not_ready_reason(server)
        refused = requests.post(server.url + "/analyze", json={"review": "great"}, timeout=5)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "model_not_ready"
    finally:
        server.stop()
    assert not marker.exists()
    assert not list((tmp_path / "cache").rglob("model.joblib")), "a refused file was cached"


def test_a_redirect_to_another_host_is_not_followed(tmp_path, releases, release):
    data, sha = release
    releases.files["/v7/model.joblib"] = (302, {"Location": releases.url("/cdn", "localhost")}, b"")
    releases.files["/cdn"] = (200, {}, data)
    env = model_env(tmp_path, releases.url("/v7/model.joblib"), sha)
    server = start_server("modelsvc", tmp_path, env, ready_path="/health/live")
    try:
        assert "not allowed" in not_ready_reason(server)
    finally:
        server.stop()
    assert "/cdn" not in releases.hits
