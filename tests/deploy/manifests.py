"""Helpers of the deploy tests: where things are, and how to pick objects out of the
rendered manifests."""

import shutil
import socket
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
# The nearest shared/schemas above the checkout (../shared, as CI lays it out).
SCHEMAS = next(
    (p / "shared" / "schemas" for p in REPO.parents if (p / "shared" / "schemas").is_dir()),
    REPO.parent / "shared" / "schemas",
)
VENV_BIN = Path(sys.executable).parent

# The groups whose objects are custom resources (validated against the CRDs in SCHEMAS);
# everything else is a core Kubernetes object (validated by kubernetes-validate).
CRD_GROUPS = ("networking.istio.io", "security.istio.io", "monitoring.coreos.com")


def is_custom_resource(doc: dict) -> bool:
    return doc["apiVersion"].split("/")[0] in CRD_GROUPS


def kubectl() -> str:
    path = shutil.which("kubectl")
    if not path:
        pytest.fail("kubectl is needed to render deploy/ (kubectl kustomize)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_templates(docs: list[dict]) -> list[tuple[str, dict]]:
    """(workload name, pod template) for every Deployment, StatefulSet and Job."""
    return [
        (d["metadata"]["name"], d["spec"]["template"])
        for d in docs
        if d["kind"] in {"Deployment", "StatefulSet", "Job"}
    ]


def containers(template: dict, *, init: bool = True) -> list[dict]:
    spec = template["spec"]
    return [*(spec.get("initContainers", []) if init else []), *spec["containers"]]
