"""The optional KEDA component (deploy/components/keda-workers): added to deploy/, the worker
Deployment scales on the batch queue's depth, read from the metric the workers export."""

import re
import shutil
import subprocess

import pytest
import yaml

from core import metrics
from tests.deploy.manifests import DEPLOY, REPO, kubectl, one

COMPONENT = DEPLOY / "components" / "keda-workers"


@pytest.fixture(scope="module")
def keda_docs(tmp_path_factory):
    root = tmp_path_factory.mktemp("keda")
    shutil.copytree(DEPLOY, root / "deploy", ignore=shutil.ignore_patterns("node_modules"))
    shutil.copytree(REPO / "monitoring", root / "monitoring")
    overlay = root / "deploy" / "with-keda"
    overlay.mkdir()
    base = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [f"../{path}" for path in base["resources"]],
                "components": [f"../{path}" for path in base["components"]]
                + ["../components/keda-workers"],
            }
        )
    )
    rendered = subprocess.run(
        [kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, check=True
    ).stdout
    return [d for d in yaml.safe_load_all(rendered) if d]


def test_the_scaled_object_drives_the_worker_deployment(keda_docs):
    docs = keda_docs
    scaled = one(docs, "ScaledObject", "sentiment-worker")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    deployment = one(docs, "Deployment", target["name"])
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    assert deployment["metadata"]["namespace"] == scaled["metadata"]["namespace"]
    # The autoscaler owns the count: the Deployment no longer says one.
    assert "replicas" not in deployment["spec"]
    assert 1 <= spec["minReplicaCount"] < spec["maxReplicaCount"]
    assert set(spec) <= {
        "scaleTargetRef",
        "minReplicaCount",
        "maxReplicaCount",
        "pollingInterval",
        "cooldownPeriod",
        "advanced",
        "triggers",
    }


def test_it_scales_on_the_queue_depth_the_workers_export(keda_docs):
    docs = keda_docs
    (trigger,) = one(docs, "ScaledObject", "sentiment-worker")["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    meta = trigger["metadata"]
    assert set(meta) == {"serverAddress", "query", "threshold"}
    assert re.fullmatch(r"\d+", meta["threshold"])  # KEDA wants a string of a number
    (name,) = re.findall(r"sentiment_[a-z_]+", meta["query"])
    assert name == metrics.BATCH_PENDING_ROWS._name  # noqa: SLF001
    # Every worker reports the same figure: a sum would count it once per worker.
    assert meta["query"].startswith("max(")
    # The workers are scraped, so the metric reaches Prometheus.
    monitor = one(docs, "PodMonitor", "sentiment-worker")
    assert monitor["spec"]["selector"]["matchLabels"] == {"app": "sentiment-worker"}


def test_the_rest_of_deploy_is_unchanged(keda_docs, docs):
    def key(doc):
        return (doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"])

    with_keda = {key(d): d for d in keda_docs if d["kind"] != "ScaledObject"}
    without = {key(d): d for d in docs}
    assert with_keda.keys() == without.keys()
    changed = [k for k in without if with_keda[k] != without[k]]
    assert changed == [("Deployment", "sentiment", "sentiment-worker")]
