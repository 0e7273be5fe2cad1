"""The monitoring kustomization: what kube-prometheus-stack needs to pick the objects up, and
that they fit the workloads of deploy/ (labels, ports, scrape annotations)."""

import json
import re
import shutil
import subprocess

import pytest
import yaml

from tests.support.servers import REPO

MONITORING = REPO / "monitoring"
RELEASE = {"release": "kube-prometheus-stack"}


def kustomize(path) -> list[dict]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its built-in kustomize) is needed to render the manifests"
    out = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in kustomize(MONITORING)}


@pytest.fixture(scope="module")
def deployed() -> list[dict]:
    return kustomize(REPO / "deploy")


def test_kustomization_renders_the_monitoring_objects(objects):
    assert set(objects) == {
        ("ServiceMonitor", "sentiment-monitor"),
        ("PodMonitor", "sentiment-worker"),
        ("PodMonitor", "sentiment-ingressgateway"),
        ("PrometheusRule", "sentiment-alerts"),
        ("ConfigMap", "grafana-dashboard-sentiment-service-health"),
        ("ConfigMap", "grafana-dashboard-sentiment-ab-experiment"),
        ("ConfigMap", "grafana-dashboard-sentiment-model"),
    }


def test_every_object_names_its_namespace_in_its_source():
    """deploy/ includes this directory without a namespace transformer."""
    kustomization = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())
    assert "namespace" not in kustomization
    for resource in kustomization["resources"]:
        for doc in yaml.safe_load_all((MONITORING / resource).read_text()):
            assert doc["metadata"].get("namespace"), resource
    for generator in kustomization["configMapGenerator"]:
        assert generator["namespace"] == "monitoring"


def test_prometheus_of_kube_prometheus_stack_selects_the_objects(objects):
    for (kind, name), obj in objects.items():
        if kind in {"ServiceMonitor", "PodMonitor", "PrometheusRule"}:
            assert RELEASE.items() <= obj["metadata"]["labels"].items(), name


def test_dashboards_ship_as_configmaps_for_the_grafana_sidecar(objects):
    for name in ("service-health", "ab-experiment", "model"):
        config_map = objects[("ConfigMap", f"grafana-dashboard-sentiment-{name}")]
        assert config_map["metadata"]["namespace"] == "monitoring"
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        data = config_map["data"][f"{name}.json"]
        assert data == (MONITORING / "dashboards" / f"{name}.json").read_text()
        assert json.loads(data)["uid"] == f"sentiment-{name}"


def test_service_monitor_scrapes_every_five_seconds_with_the_pod_version(objects):
    monitor = objects[("ServiceMonitor", "sentiment-monitor")]
    assert monitor["metadata"]["namespace"] == "sentiment"
    spec = monitor["spec"]
    assert spec["podTargetLabels"] == ["version"]
    assert spec["namespaceSelector"] == {"matchNames": ["sentiment"]}
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] == "http"
    assert endpoint["path"] == "/metrics"
    assert endpoint["interval"] == "5s"


def relabel(rules: list[dict], labels: dict[str, str]) -> dict[str, str]:
    """Prometheus' replace relabelling (the only action used), with Python's re, which
    agrees with RE2 on these patterns."""
    labels = dict(labels)
    for rule in rules:
        assert rule.get("action", "replace") == "replace"
        source = ";".join(labels.get(name, "") for name in rule.get("sourceLabels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), source)
        if match:
            replacement = re.sub(r"\$(\d+)", r"\\\1", rule.get("replacement", "$1"))
            labels[rule["targetLabel"]] = match.expand(replacement)
    return labels


@pytest.mark.parametrize(
    ("kind", "name", "endpoints"),
    [
        ("ServiceMonitor", "sentiment-monitor", "endpoints"),
        ("PodMonitor", "sentiment-worker", "podMetricsEndpoints"),
    ],
)
@pytest.mark.parametrize(
    ("pod_ip", "annotations", "address", "path"),
    [
        # Istio's injector rewrote the annotations: the sidecar's merged metrics.
        (
            "10.1.2.3",
            {"port": "15020", "path": "/stats/prometheus"},
            "10.1.2.3:15020",
            "/stats/prometheus",
        ),
        (
            "fd00::1:5",
            {"port": "15020", "path": "/stats/prometheus"},
            "[fd00::1:5]:15020",
            "/stats/prometheus",
        ),
        # No sidecar: the app's own annotations.
        ("10.1.2.3", {"port": "5001", "path": "/metrics"}, "10.1.2.3:5001", "/metrics"),
        # No annotations: the endpoint's own port and path.
        ("10.1.2.3", {}, "10.1.2.3:5000", "/metrics"),
    ],
)
def test_scrape_goes_where_the_pod_annotations_say(
    objects, kind, name, endpoints, pod_ip, annotations, address, path
):
    (endpoint,) = objects[(kind, name)]["spec"][endpoints]
    target = {
        "__address__": f"{pod_ip}:5000" if ":" not in pod_ip else f"[{pod_ip}]:5000",
        "__metrics_path__": endpoint["path"],
        "__meta_kubernetes_pod_ip": pod_ip,
    }
    if not annotations:
        address = target["__address__"]
    for key, value in annotations.items():
        target[f"__meta_kubernetes_pod_annotation_prometheus_io_{key}"] = value
    result = relabel(endpoint["relabelings"], target)
    assert (result["__address__"], result["__metrics_path__"]) == (address, path)


def selects(selector: dict, labels: dict) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def pod_templates(deployed: list[dict]) -> list[dict]:
    return [
        d["spec"]["template"]
        for d in deployed
        if d["kind"] in {"Deployment", "StatefulSet"} and d["metadata"]["namespace"] == "sentiment"
    ]


def test_deploy_includes_the_monitoring_objects(deployed, objects):
    names = {(d["kind"], d["metadata"]["name"]) for d in deployed}
    assert set(objects) <= names


def test_service_monitor_selects_the_two_services_and_their_port(deployed, objects):
    monitor = objects[("ServiceMonitor", "sentiment-monitor")]["spec"]
    services = [
        d
        for d in deployed
        if d["kind"] == "Service"
        and d["metadata"]["namespace"] in monitor["namespaceSelector"]["matchNames"]
        and selects(monitor["selector"], d["metadata"].get("labels", {}))
    ]
    assert sorted(s["metadata"]["name"] for s in services) == [
        "sentiment-app-service",
        "sentiment-model-service",
    ]
    for service in services:
        assert "http" in [port["name"] for port in service["spec"]["ports"]]


def test_scraped_pods_carry_scrape_annotations_and_a_version(deployed, objects):
    """The sidecar merges the app's metrics only for pods annotated with its port and path."""
    monitor = objects[("ServiceMonitor", "sentiment-monitor")]["spec"]
    worker = objects[("PodMonitor", "sentiment-worker")]["spec"]
    services = {
        d["metadata"]["name"]: d
        for d in deployed
        if d["kind"] == "Service" and selects(monitor["selector"], d["metadata"]["labels"])
    }
    checked = []
    for template in pod_templates(deployed):
        labels = template["metadata"]["labels"]
        by_service = [
            s for s in services.values() if s["spec"]["selector"].items() <= labels.items()
        ]
        by_worker_monitor = selects(worker["selector"], labels)
        if not by_service and not by_worker_monitor:
            continue
        port_name = "metrics" if by_worker_monitor else "http"
        ports = {
            p.get("name"): p["containerPort"]
            for c in template["spec"]["containers"]
            for p in c.get("ports", [])
        }
        annotations = template["metadata"].get("annotations", {})
        where = labels["app"]
        assert port_name in ports, f"{where}: no container port named {port_name}"
        assert annotations.get("prometheus.io/scrape") == "true", where
        assert annotations.get("prometheus.io/port") == str(ports[port_name]), where
        assert annotations.get("prometheus.io/path") == "/metrics", where
        assert labels.get("version"), where
        checked.append(where)
    assert {"sentiment-app", "sentiment-model", "sentiment-worker"} <= set(checked)
