"""The mesh as rendered by `kubectl kustomize deploy/`: mutual TLS is required for every
workload of the namespace, and only the web app and the workers may call the model service."""

import shutil
import subprocess

import pytest
import yaml

from tests.support.servers import REPO

NAMESPACE = "sentiment"
MODEL_LABEL = "sentiment-model"
CALLER_DEPLOYMENTS = {"sentiment-app-v1", "sentiment-app-v2", "sentiment-worker"}


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.fail("kubectl is needed to render deploy/ (kubectl kustomize)")
    result = subprocess.run(
        [kubectl, "kustomize", str(REPO / "deploy")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(docs, kind, namespace=NAMESPACE) -> list[dict]:
    return [d for d in docs if d["kind"] == kind and d["metadata"].get("namespace") == namespace]


def pod_templates(docs) -> dict[str, dict]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]
        for d in of_kind(docs, "Deployment") + of_kind(docs, "StatefulSet")
    }


def selects(policy: dict, labels: dict) -> bool:
    match = policy["spec"].get("selector", {}).get("matchLabels", {})
    return all(labels.get(key) == value for key, value in match.items())


def test_the_namespace_gets_sidecars(docs):
    (namespace,) = [
        d for d in docs if d["kind"] == "Namespace" and d["metadata"]["name"] == NAMESPACE
    ]
    labels = namespace["metadata"].get("labels", {})
    assert labels.get("istio-injection") == "enabled" or "istio.io/rev" in labels
    for name, template in pod_templates(docs).items():
        annotations = template["metadata"].get("annotations", {})
        assert annotations.get("sidecar.istio.io/inject") != "false", name


def test_mutual_tls_is_strict_for_the_whole_namespace(docs):
    policies = of_kind(docs, "PeerAuthentication")
    namespace_wide = [p for p in policies if not p["spec"].get("selector")]
    assert namespace_wide, "no namespace-wide PeerAuthentication"
    for policy in policies:
        spec = policy["spec"]
        assert spec.get("mtls", {}).get("mode", "STRICT") == "STRICT", policy["metadata"]["name"]
        for port, setting in spec.get("portLevelMtls", {}).items():
            assert setting.get("mode") == "STRICT", (policy["metadata"]["name"], port)
    assert namespace_wide[0]["spec"]["mtls"]["mode"] == "STRICT"


def test_only_the_web_app_and_the_workers_may_call_the_model_service(docs):
    templates = pod_templates(docs)
    model_pods = [
        t for t in templates.values() if t["metadata"]["labels"].get("app") == MODEL_LABEL
    ]
    assert model_pods, "no model service Deployment"
    callers = {
        f"cluster.local/ns/{NAMESPACE}/sa/{templates[name]['spec']['serviceAccountName']}"
        for name in CALLER_DEPLOYMENTS
    }
    assert len(callers) == 2  # the web app's identity and the workers'
    service_accounts = {sa["metadata"]["name"] for sa in of_kind(docs, "ServiceAccount")}
    assert {c.rsplit("/", 1)[1] for c in callers} <= service_accounts

    for pod in model_pods:
        labels = pod["metadata"]["labels"]
        policies = [p for p in of_kind(docs, "AuthorizationPolicy") if selects(p, labels)]
        allows = [p for p in policies if p["spec"].get("action", "ALLOW") == "ALLOW"]
        assert allows, "no ALLOW policy: every caller would be let in"
        allowed = set()
        for policy in allows:
            rules = policy["spec"].get("rules", [])
            for rule in rules:
                sources = rule.get("from")
                assert sources, f"{policy['metadata']['name']}: a rule without 'from' allows anyone"
                for entry in sources:
                    source = entry["source"]
                    assert set(source) == {"principals"}, (policy["metadata"]["name"], source)
                    allowed |= set(source["principals"])
        assert allowed == callers


def container_env(docs, template: dict) -> dict[str, str]:
    """The environment of a pod's first container: its ConfigMaps, then its own variables."""
    config_maps = {c["metadata"]["name"]: c.get("data", {}) for c in of_kind(docs, "ConfigMap")}
    container = template["spec"]["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps.get(source["configMapRef"]["name"], {}))
    env.update({v["name"]: v.get("value") for v in container.get("env", []) if "value" in v})
    return env


def test_the_web_app_counts_sign_in_failures_per_real_client(docs):
    """Behind the gateway every request arrives from the sidecar's address; the gateway
    appends the client's to X-Forwarded-For. Without trusting that one hop, all clients
    would share one address and anyone could lock an admin account for everybody."""
    templates = pod_templates(docs)
    for name in ("sentiment-app-v1", "sentiment-app-v2"):
        assert container_env(docs, templates[name]).get("TRUSTED_PROXY_COUNT") == "0", name
