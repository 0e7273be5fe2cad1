"""Model delivery against a local server that answers like GitHub's release-asset API.

``GET /repos/<owner>/<repo>/releases/assets/<id>`` on the API host wants a token and
``Accept: application/octet-stream``, then redirects (302) to a signed URL on another host,
which refuses requests that carry an Authorization header (as the object store does). Its
refusals (401, 404, 403 with ``x-ratelimit-remaining: 0``) must leave the service not ready
with a reason a person can act on.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from modelsvc import serving
from modelsvc.config import ModelConfig
from tests.support.artifacts import write_tiny_artifact

TOKEN = "ghp-test-token"
ASSET = "/repos/acme/sentiment/releases/assets/42"
RESET = 1_900_000_000


class Host:
    def __init__(self, handle):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "accept": self.headers.get("Accept"),
                    }
                )
                status, headers, body = handle(self)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.httpd.server_port

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _json(status: int, message: str, **headers) -> tuple[int, dict, bytes]:
    body = json.dumps({"message": message, "documentation_url": "https://docs.github.com/rest"})
    return status, {"Content-Type": "application/json", **headers}, body.encode()


@pytest.fixture
def github(tmp_path):
    """The API host (127.0.0.1) and the asset host (localhost), with a mode to answer in."""
    path = tmp_path / "src" / "model.joblib"
    sha = write_tiny_artifact(path)
    payload = path.read_bytes()
    state = {"mode": "ok"}

    def asset_host(request):
        if request.headers.get("Authorization"):
            return 400, {}, b"<Error>Only one auth mechanism allowed</Error>"
        if not request.path.startswith("/signed/model.joblib?X-Amz-Signature="):
            return 403, {}, b"<Error>AccessDenied</Error>"
        return 200, {"Content-Type": "application/octet-stream"}, payload

    assets = Host(asset_host)

    def api_host(request):
        mode = state["mode"]
        if mode == "rate-limited":
            return _json(
                403,
                "API rate limit exceeded",
                **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(RESET)},
            )
        if request.headers.get("Authorization") != f"Bearer {TOKEN}" or mode == "bad-token":
            return _json(401, "Bad credentials")
        if request.path != ASSET or mode == "missing":
            return _json(404, "Not Found")
        if request.headers.get("Accept") != "application/octet-stream":
            return _json(200, "asset metadata, not the asset")
        location = f"http://localhost:{assets.port}/signed/model.joblib?X-Amz-Signature=abc"
        return 302, {"Location": location}, b""

    api = Host(api_host)
    yield api, assets, state, sha, payload
    api.close()
    assets.close()


def config(tmp_path, api: Host, sha: str, *, token: str = TOKEN) -> ModelConfig:
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    return ModelConfig(
        url=f"http://127.0.0.1:{api.port}{ASSET}",
        token_file=str(token_file),
        sha256=sha,
        version="model-v1.0.0",
        cache_dir=tmp_path / "cache",
        allowed_hosts=("127.0.0.1", "localhost"),
        download_timeout=5.0,
    )


def ready(reason_contains: str | None = None) -> dict:
    response = Client().get("/health/ready")
    body = response.json()
    if reason_contains is None:
        assert response.status_code == 200, body
    else:
        assert response.status_code == 503, body
        assert reason_contains in body["error"]["message"], body
    return body


def test_release_asset_is_fetched_through_the_redirect_without_leaking_the_token(github, tmp_path):
    api, assets, _, sha, payload = github
    with serving.override(None):
        model = serving.load(config(tmp_path, api, sha))
        assert model is not None and model.sha256 == sha
        ready()
    assert api.requests[0]["auth"] == f"Bearer {TOKEN}"
    assert api.requests[0]["accept"] == "application/octet-stream"
    assert [r["auth"] for r in assets.requests] == [None]
    assert (tmp_path / "cache" / "model-v1.0.0" / "model.joblib").read_bytes() == payload


@pytest.mark.parametrize(
    ("mode", "token", "reason"),
    [
        ("ok", "wrong-token", "HTTP 401: the token was refused"),
        ("missing", TOKEN, "HTTP 404: no such release asset: check MODEL_URL"),
        (
            "rate-limited",
            TOKEN,
            "HTTP 403: API rate limit exhausted, it resets at 2030-03-17T17:46:40",
        ),
    ],
)
def test_refusals_surface_as_a_clear_not_ready_reason(github, tmp_path, mode, token, reason):
    api, _, state, sha, _ = github
    state["mode"] = mode
    with serving.override(None):
        assert serving.load(config(tmp_path, api, sha, token=token)) is None
        body = ready(reason_contains=reason)
    assert token not in json.dumps(body)
    assert not (tmp_path / "cache" / "model-v1.0.0" / "model.joblib").exists()


def test_the_redirect_host_must_be_allowed(github, tmp_path):
    api, assets, _, sha, _ = github
    narrow = config(tmp_path, api, sha)
    narrow = ModelConfig(**{**narrow.__dict__, "allowed_hosts": ("127.0.0.1",)})
    with serving.override(None):
        assert serving.load(narrow) is None
        ready(reason_contains="host 'localhost' not allowed")
    assert assets.requests == []
