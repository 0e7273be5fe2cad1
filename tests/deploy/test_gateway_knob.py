"""The ingress gateway is named once (deploy/gateway/ingress-gateway.yaml) and installed with
the settings Sentiment needs (deploy/gateway/istio-operator.yaml for istioctl,
helm-values.yaml for the Helm chart)."""

import json
import re
import shutil
import subprocess

import pytest
import yaml

from tests.deploy.manifests import DEPLOY, REPO, by_kind, kubectl, one
from tests.deploy.test_networkpolicies import flows, needed

GATEWAY_DIR = DEPLOY / "gateway"
HELM = {"namespace": "istio-ingress", "selector": {"istio": "ingress"}}


def knob() -> dict:
    return yaml.safe_load((GATEWAY_DIR / "ingress-gateway.yaml").read_text())["spec"]


def gateway_facing(docs: list[dict]) -> dict[str, tuple[str | None, dict]]:
    """(namespace, selector) as each object that must find the gateway has it."""
    found = {"Gateway": (None, one(docs, "Gateway", "sentiment-gateway")["spec"]["selector"])}
    for envoy_filter in by_kind(docs, "EnvoyFilter"):
        found[f"EnvoyFilter/{envoy_filter['metadata']['name']}"] = (
            envoy_filter["metadata"]["namespace"],
            envoy_filter["spec"]["workloadSelector"]["labels"],
        )
    for policy in by_kind(docs, "AuthorizationPolicy"):
        if policy["metadata"]["name"] == "gateway-monitoring-access":
            found["AuthorizationPolicy"] = (
                policy["metadata"]["namespace"],
                policy["spec"]["selector"]["matchLabels"],
            )
    monitor = one(docs, "PodMonitor", "sentiment-ingressgateway")
    (watched,) = monitor["spec"]["namespaceSelector"]["matchNames"]
    assert watched == monitor["metadata"]["namespace"]
    found["PodMonitor"] = (watched, monitor["spec"]["selector"]["matchLabels"])
    peer = one(docs, "NetworkPolicy", "sentiment-app")["spec"]["ingress"][0]["from"][0]
    found["NetworkPolicy"] = (
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        peer["podSelector"]["matchLabels"],
    )
    return found


def assert_all_follow(docs: list[dict], gateway: dict) -> None:
    found = gateway_facing(docs)
    assert {"Gateway", "EnvoyFilter/sentiment-rate-limit", "PodMonitor", "NetworkPolicy"} <= set(
        found
    )
    for what, (namespace, selector) in found.items():
        assert selector == gateway["selector"], what
        assert namespace in (None, gateway["namespace"]), what
    # The alert and dashboard select the gateway's series by the label its PodMonitor sets.
    monitor = one(docs, "PodMonitor", "sentiment-ingressgateway")
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert {"targetLabel": "service", "replacement": "sentiment-ingressgateway"} in endpoint[
        "relabelings"
    ]
    rules = json.dumps(one(docs, "PrometheusRule", "sentiment-alerts")["spec"])
    assert 'service=\\"sentiment-ingressgateway\\"' in rules
    assert "ingressgateway.*" not in rules


def test_every_gateway_reference_follows_the_knob(docs):
    assert_all_follow(docs, knob())


def test_changing_the_knob_moves_every_reference(tmp_path):
    """The Helm chart's gateway (istio: ingress in istio-ingress): one edit, and routing, the
    rate limit, the monitoring-host policy, the scrape, the alert and the network policy all
    find it."""
    shutil.copytree(DEPLOY, tmp_path / "deploy", ignore=shutil.ignore_patterns("node_modules"))
    shutil.copytree(REPO / "monitoring", tmp_path / "monitoring")
    path = tmp_path / "deploy" / "gateway" / "ingress-gateway.yaml"
    text = path.read_text()
    assert "namespace: istio-system" in text and "istio: ingressgateway" in text
    path.write_text(
        text.replace("namespace: istio-system", "namespace: istio-ingress").replace(
            "istio: ingressgateway", "istio: ingress"
        )
    )
    rendered = subprocess.run(
        [kubectl(), "kustomize", str(tmp_path / "deploy")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    assert_all_follow(docs, HELM)
    assert "ingressgateway\n" not in rendered.replace("sentiment-ingressgateway", "")
    assert flows(docs, HELM) == needed(docs)


# --- how the gateway is installed -------------------------------------------------------------


def install_settings() -> dict[str, tuple[dict, str]]:
    """(proxy config, externalTrafficPolicy) of each install method."""
    (operator_gateway,) = yaml.safe_load((GATEWAY_DIR / "istio-operator.yaml").read_text())["spec"][
        "components"
    ]["ingressGateways"]
    assert operator_gateway["name"] == "istio-ingressgateway" and operator_gateway["enabled"]
    k8s = operator_gateway["k8s"]
    helm = yaml.safe_load((GATEWAY_DIR / "helm-values.yaml").read_text())
    return {
        "istioctl": (
            json.loads(k8s["podAnnotations"]["proxy.istio.io/config"]),
            k8s["service"]["externalTrafficPolicy"],
        ),
        "helm": (
            json.loads(helm["podAnnotations"]["proxy.istio.io/config"]),
            helm["service"]["externalTrafficPolicy"],
        ),
    }


def test_both_install_methods_configure_the_gateway_alike():
    settings = install_settings()
    assert settings["istioctl"] == settings["helm"]
    assert settings["helm"][1] == "Local"  # the client's own address reaches the gateway


@pytest.mark.parametrize(
    "stat",
    # Envoy's local rate limit stats (<stat_prefix>.http_local_rate_limit.<counter>).
    [
        f"sentiment_rate_limit.http_local_rate_limit.{c}"
        for c in ("enabled", "enforced", "ok", "rate_limited")
    ],
)
def test_the_stats_matcher_keeps_the_rate_limit_stats(stat, docs):
    proxy_config, _ = install_settings()["istioctl"]
    matcher = proxy_config["proxyStatsMatcher"]
    assert set(matcher) == {"inclusionRegexps"}
    assert any(re.fullmatch(r, stat) for r in matcher["inclusionRegexps"])
    assert not any(
        re.fullmatch(r, "cluster.outbound|80||x.upstream_rq_200")
        for r in matcher["inclusionRegexps"]
    )
    # What the alert reads is what the scrape keeps.
    rules = json.dumps(one(docs, "PrometheusRule", "sentiment-alerts")["spec"])
    names = set(re.findall(r"envoy_http_local_rate_limit_\w+", rules))
    assert names == {
        "envoy_http_local_rate_limit_enabled",
        "envoy_http_local_rate_limit_rate_limited",
    }
    monitor = one(docs, "PodMonitor", "sentiment-ingressgateway")
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    (keep,) = [r for r in endpoint["metricRelabelings"] if r["action"] == "keep"]
    assert all(re.fullmatch(keep["regex"], name) for name in names)


def test_trusted_proxies_agree_between_gateway_and_app(docs):
    """TRUSTED_PROXY_COUNT means what the gateway's numTrustedProxies means: the proxies in
    front of the gateway (deploy/README.md, "Client addresses")."""
    proxy_config, _ = install_settings()["istioctl"]
    config = one(docs, "ConfigMap", "sentiment-config")["data"]
    assert (
        int(config["TRUSTED_PROXY_COUNT"]) == proxy_config["gatewayTopology"]["numTrustedProxies"]
    )
    assert proxy_config["gatewayTopology"] == {"numTrustedProxies": 0}  # direct L4 load balancer


def test_the_default_knob_is_the_istioctl_gateway():
    assert knob() == {"namespace": "istio-system", "selector": {"istio": "ingressgateway"}}
