"""Fixtures of the deploy tests: the rendered manifests (``kubectl kustomize deploy/``, once per
session) and the Istio -> Envoy translator."""

import importlib.util
import subprocess
import sys

import pytest
import yaml

from tests.deploy.manifests import DEPLOY, kubectl


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
