"""Model delivery against a real local HTTP server: token, cache, checksum, concurrency."""

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.known_secrets import PUBLISHED_VALUES
from modelsvc import delivery, serving
from modelsvc.config import ModelConfig
from tests.support.artifacts import write_tiny_artifact


class ReleaseServer:
    """Serves one artifact at /release/model.joblib and records what clients sent."""

    def __init__(self, payload: bytes):
        self.payload = payload
        self.requests: list[dict] = []
        self.redirect_to: str | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization")}
                )
                if self.path == "/redirect" and outer.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", outer.redirect_to)
                    self.end_headers()
                    return
                if self.path != "/release/model.joblib":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.payload)))
                self.end_headers()
                self.wfile.write(outer.payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def downloads(self) -> int:
        return sum(1 for r in self.requests if r["path"] == "/release/model.joblib")

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def artifact(tmp_path) -> tuple[bytes, str]:
    sha = write_tiny_artifact(tmp_path / "src" / "model.joblib")
    return (tmp_path / "src" / "model.joblib").read_bytes(), sha


@pytest.fixture
def release(artifact):
    server = ReleaseServer(artifact[0])
    yield server
    server.close()


def config_for(release: ReleaseServer, tmp_path: Path, **overrides) -> ModelConfig:
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    values = {
        "url": f"{release.url}/release/model.joblib",
        "token_file": str(token),
        "version": "v1.2.3",
        "cache_dir": tmp_path / "cache",
        "allowed_hosts": ("127.0.0.1",),
        "download_timeout": 5.0,
    }
    values.update(overrides)
    return ModelConfig(**values)


def test_download_sends_token_verifies_and_caches_by_version(release, artifact, tmp_path, caplog):
    payload, sha = artifact
    config = config_for(release, tmp_path, sha256=sha)
    path, actual = delivery.fetch_artifact(config)
    assert actual == sha
    assert path == tmp_path / "cache" / "v1.2.3" / "model.joblib"
    assert path.read_bytes() == payload
    assert release.requests[0]["auth"] == "Bearer s3cret-token"
    assert "s3cret-token" not in caplog.text


def test_second_start_loads_from_cache_without_downloading(release, artifact, tmp_path):
    config = config_for(release, tmp_path, sha256=artifact[1])
    delivery.fetch_artifact(config)
    delivery.fetch_artifact(config)
    model = serving.resolve_and_load(config)
    assert release.downloads() == 1
    assert model.version == "tiny-1"
    assert model.sha256 == artifact[1]


def test_checksum_mismatch_is_refused_and_nothing_is_cached(release, tmp_path):
    config = config_for(release, tmp_path, sha256="0" * 64)
    with pytest.raises(delivery.ArtifactError) as raised:
        delivery.fetch_artifact(config)
    assert raised.value.reason == "checksum"
    assert not (tmp_path / "cache" / "v1.2.3" / "model.joblib").exists()
    assert not [p for p in (tmp_path / "cache" / "v1.2.3").iterdir() if p.name.startswith(".d")]


def test_load_failure_leaves_service_not_ready_with_the_reason(release, tmp_path):
    with serving.override(None):
        assert serving.load(config_for(release, tmp_path, sha256="0" * 64)) is None
        assert serving.current_model() is None
        assert "checksum mismatch" in serving.not_ready_reason()


def test_tampered_cache_is_never_loaded_and_is_fetched_again(release, artifact, tmp_path):
    config = config_for(release, tmp_path, sha256=artifact[1])
    path, _ = delivery.fetch_artifact(config)
    path.write_bytes(b"not a pickle: tampered")
    path, actual = delivery.fetch_artifact(config)
    assert actual == artifact[1]
    assert release.downloads() == 2
    assert path.read_bytes() == artifact[0]


def test_tampered_cache_without_configured_checksum_is_caught_by_the_recorded_one(
    release, artifact, tmp_path
):
    config = config_for(release, tmp_path)
    path, _ = delivery.fetch_artifact(config)
    path.write_bytes(b"tampered")
    _, actual = delivery.fetch_artifact(config)
    assert actual == artifact[1]
    assert release.downloads() == 2


def test_loading_checks_the_bytes_it_unpickles(tmp_path, artifact):
    path = tmp_path / "model.joblib"
    path.write_bytes(artifact[0] + b"extra")
    with pytest.raises(delivery.ArtifactError, match="checksum mismatch"):
        serving.load_verified(path, artifact[1])


def test_two_concurrent_starts_get_the_same_complete_file(release, artifact, tmp_path):
    config = config_for(release, tmp_path, sha256=artifact[1])
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: delivery.fetch_artifact(config), range(4)))
    assert {sha for _, sha in results} == {artifact[1]}
    assert hashlib.sha256(results[0][0].read_bytes()).hexdigest() == artifact[1]
    assert release.downloads() == 1


def test_redirect_to_another_host_is_refused(release, tmp_path):
    release.redirect_to = "http://localhost:1/elsewhere"
    config = config_for(release, tmp_path, url=f"{release.url}/redirect")
    with pytest.raises(delivery.ArtifactError) as raised:
        delivery.fetch_artifact(config)
    assert raised.value.reason == "host"


def test_redirect_on_the_same_host_is_followed(release, artifact, tmp_path):
    release.redirect_to = "/release/model.joblib"
    config = config_for(release, tmp_path, url=f"{release.url}/redirect", sha256=artifact[1])
    _, sha = delivery.fetch_artifact(config)
    assert sha == artifact[1]


def test_http_error_is_reported(release, tmp_path):
    config = config_for(release, tmp_path, url=f"{release.url}/missing")
    with pytest.raises(delivery.ArtifactError, match="HTTP 404"):
        delivery.fetch_artifact(config)


def test_file_url_is_copied_and_verified(artifact, tmp_path):
    source = tmp_path / "src" / "model.joblib"
    config = ModelConfig(
        url=f"file://{source}", sha256=artifact[1], version="local", cache_dir=tmp_path / "c"
    )
    model = serving.resolve_and_load(config)
    assert model.sha256 == artifact[1]


def test_production_requires_a_checksum(release, tmp_path, settings):
    settings.PRODUCTION = True
    with pytest.raises(delivery.ArtifactError, match="MODEL_SHA256"):
        serving.resolve_and_load(config_for(release, tmp_path))


def test_cache_key_never_leaves_the_cache_folder():
    assert ModelConfig(version="..", sha256="ab" * 32).cache_key == "ab" * 8
    assert ModelConfig(version="../../etc").cache_key == "_.._etc"
    assert ModelConfig(version="v1.2.3").cache_key == "v1.2.3"


def test_leftovers_of_a_killed_download_are_removed(release, artifact, tmp_path):
    config = config_for(release, tmp_path, sha256=artifact[1])
    folder = tmp_path / "cache" / config.cache_key
    folder.mkdir(parents=True)
    (folder / ".download-abandoned").write_bytes(b"half a file")
    delivery.fetch_artifact(config)
    assert not list(folder.glob(".download-*"))


def test_redirect_to_an_allowed_host_drops_the_token(release, artifact, tmp_path):
    other = ReleaseServer(artifact[0])
    try:
        release.redirect_to = f"http://localhost:{other.httpd.server_port}/release/model.joblib"
        config = config_for(
            release,
            tmp_path,
            url=f"{release.url}/redirect",
            sha256=artifact[1],
            allowed_hosts=("127.0.0.1", "localhost"),
        )
        _, sha = delivery.fetch_artifact(config)
        assert sha == artifact[1]
        assert release.requests[0]["auth"] == "Bearer s3cret-token"
        assert other.requests[0]["auth"] is None
    finally:
        other.close()


def test_the_token_is_never_sent_in_clear_text_over_the_network(tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-token")
    config = ModelConfig(
        url="http://models.example.invalid/model.joblib",
        token_file=str(token),
        cache_dir=tmp_path / "cache",
        allowed_hosts=("models.example.invalid",),
    )
    with pytest.raises(delivery.ArtifactError, match="https"):
        delivery.fetch_artifact(config)


@pytest.mark.parametrize(
    "placeholder",
    sorted(value for value in PUBLISHED_VALUES if value.endswith("github-token")),
)
def test_production_refuses_the_published_placeholder_token(
    release, artifact, tmp_path, settings, placeholder
):
    """The repository's placeholder github tokens are never sent in production mode."""
    settings.PRODUCTION = True
    config = config_for(release, tmp_path, sha256=artifact[1])
    Path(config.token_file).write_text(placeholder + "\n")
    with pytest.raises(delivery.ArtifactError, match="refuses MODEL_TOKEN_FILE") as refused:
        delivery.fetch_artifact(config)
    assert placeholder not in str(refused.value)
    assert release.requests == []
    settings.PRODUCTION = False  # the same token outside production mode is sent
    delivery.fetch_artifact(config)
    assert release.requests[0]["auth"] == f"Bearer {placeholder}"
