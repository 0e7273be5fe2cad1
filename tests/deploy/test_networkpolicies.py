"""The NetworkPolicies of the rendered manifests, evaluated: every pod of the namespace (from
the Deployment, StatefulSet and Job templates) and the pods it talks to elsewhere (the ingress
gateway with the labels of deploy/gateway/ingress-gateway.yaml, Prometheus, kube-dns, istiod,
and a stranger in another namespace), plus addresses outside the cluster. A connection passes
when an egress rule of its source AND an ingress rule of its destination allow it (a pod no
policy selects for a direction is open in that direction), as Kubernetes defines it. Every
connection the system needs passes; every other one involving the namespace is refused."""

import copy
import ipaddress
from dataclasses import dataclass, field

import pytest
import yaml

from tests.deploy.manifests import DEPLOY, by_kind, pod_templates

NS = "sentiment"
SIDECAR_PORTS = [("TCP", 15020), ("TCP", 15090)]  # merged metrics, Envoy stats


@dataclass(frozen=True)
class Endpoint:
    name: str
    namespace: str | None  # None: an address outside the cluster
    labels: dict = field(default_factory=dict, hash=False, compare=False)
    ip: str = ""
    ports: tuple = ()


def knob() -> dict:
    return yaml.safe_load((DEPLOY / "gateway" / "ingress-gateway.yaml").read_text())["spec"]


def endpoints(docs: list[dict], gateway: dict | None = None) -> list[Endpoint]:
    gateway = gateway or knob()
    found = []
    for i, (name, template) in enumerate(pod_templates(docs)):
        ports = tuple(
            (p.get("protocol", "TCP"), p["containerPort"])
            for c in template["spec"]["containers"]
            for p in c.get("ports", [])
        )
        found.append(
            Endpoint(
                name,
                NS,
                template["metadata"]["labels"],
                f"10.0.1.{i + 1}",
                ports + tuple(SIDECAR_PORTS),
            )
        )
    others = [
        (
            "ingress-gateway",
            gateway["namespace"],
            {**gateway["selector"], "app": "gateway"},
            [("TCP", 8080), ("TCP", 8443)],
        ),
        (
            "prometheus",
            "monitoring",
            {
                "app.kubernetes.io/name": "prometheus",
                "prometheus": "kube-prometheus-stack-prometheus",
            },
            [("TCP", 9090)],
        ),
        ("grafana", "monitoring", {"app.kubernetes.io/name": "grafana"}, [("TCP", 3000)]),
        ("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, [("UDP", 53), ("TCP", 53)]),
        (
            "istiod",
            "istio-system",
            {"app": "istiod", "istio": "pilot"},
            [("TCP", 15012), ("TCP", 15017), ("TCP", 15010)],
        ),
        # Labelled like the web app, in another namespace: labels alone must not admit it.
        ("stranger", "default", {"app": "sentiment-app", "version": "v1"}, [("TCP", 5001)]),
    ]
    for i, (name, namespace, labels, ports) in enumerate(others):
        found.append(Endpoint(name, namespace, labels, f"10.0.2.{i + 1}", tuple(ports)))
    found += [
        Endpoint("github.com", None, {}, "140.82.112.3", (("TCP", 443), ("TCP", 80))),
        Endpoint("private-host", None, {}, "192.168.10.5", (("TCP", 443),)),
        Endpoint("cloud-metadata", None, {}, "169.254.169.254", (("TCP", 80), ("TCP", 443))),
    ]
    return found


def selects(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def namespace_labels(namespace: str) -> dict:
    return {"kubernetes.io/metadata.name": namespace}


def peer_matches(peer: dict, policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        address = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if other.namespace is None:  # pod and namespace selectors only match pods
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], namespace_labels(other.namespace)):
            return False
    elif other.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], other.labels)


def port_matches(ports: list | None, protocol: str, port: int) -> bool:
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        if "port" not in p:
            return True
        assert isinstance(p["port"], int), "the policies use port numbers"
        if p["port"] <= port <= p.get("endPort", p["port"]):
            return True
    return False


def policy_types(policy: dict) -> list[str]:
    spec = policy["spec"]
    return spec.get("policyTypes") or ["Ingress", *(["Egress"] if "egress" in spec else [])]


def allowed_at(policies, direction, pod: Endpoint, other: Endpoint, protocol, port) -> bool:
    if pod.namespace is None:
        return True
    applicable = [
        p
        for p in policies
        if p["metadata"]["namespace"] == pod.namespace
        and selects(p["spec"]["podSelector"], pod.labels)
        and direction in policy_types(p)
    ]
    if not applicable:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in applicable:
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            if (
                not peers or any(peer_matches(peer, pod.namespace, other) for peer in peers)
            ) and port_matches(rule.get("ports"), protocol, port):
                return True
    return False


def flows(docs: list[dict], gateway: dict | None = None) -> set[tuple[str, str, str, int]]:
    """Every (source, destination, protocol, port) the policies let through, for the
    connections that start or end in the namespace."""
    policies = by_kind(docs, "NetworkPolicy")
    points = endpoints(docs, gateway)
    open_flows = set()
    for src in points:
        if src.namespace is None:
            continue
        for dst in points:
            if src == dst or NS not in (src.namespace, dst.namespace):
                continue
            for protocol, port in dst.ports:
                if allowed_at(policies, "Egress", src, dst, protocol, port) and allowed_at(
                    policies, "Ingress", dst, src, protocol, port
                ):
                    open_flows.add((src.name, dst.name, protocol, port))
    return open_flows


def needed(docs: list[dict]) -> set[tuple[str, str, str, int]]:
    pods = [name for name, _ in pod_templates(docs)]
    app = ["sentiment-app-v1", "sentiment-app-v2"]
    model = ["sentiment-model", "sentiment-model-v2"]
    expected = set()
    for pod in pods:
        expected |= {(pod, "kube-dns", "UDP", 53), (pod, "kube-dns", "TCP", 53)}
        expected.add((pod, "istiod", "TCP", 15012))
    expected |= {("ingress-gateway", a, "TCP", 5001) for a in app}
    for src in [*app, "sentiment-worker"]:
        expected |= {(src, m, "TCP", 5000) for m in model}
    for src in [*app, "sentiment-worker", "sentiment-beat", "sentiment-migrate"]:
        expected.add((src, "sentiment-postgres", "TCP", 5432))
    for src in [*app, "sentiment-worker", "sentiment-beat"]:
        expected.add((src, "sentiment-redis", "TCP", 6379))
    for dst in [*app, *model, "sentiment-worker"]:
        expected.add(("prometheus", dst, "TCP", 15020))
    expected |= {(m, "github.com", "TCP", 443) for m in model}
    return expected


def test_exactly_the_needed_connections_pass(docs):
    assert len(pod_templates(docs)) == 9
    open_flows = flows(docs)
    assert open_flows - needed(docs) == set(), "allowed but not needed"
    assert needed(docs) - open_flows == set(), "needed but refused"


def test_the_namespace_denies_by_default(docs):
    (deny,) = [p for p in by_kind(docs, "NetworkPolicy") if p["metadata"]["name"] == "default-deny"]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert {p["metadata"]["namespace"] for p in by_kind(docs, "NetworkPolicy")} == {NS}


@pytest.mark.parametrize(
    ("mutate", "extra", "missing"),
    [
        # Without the default deny, anyone reaches the pods no other policy guards (beat).
        (
            lambda ps: [p for p in ps if p["metadata"]["name"] != "default-deny"],
            ("stranger", "sentiment-beat", "TCP", 15020),
            None,
        ),
        # Another gateway namespace in the web app's policy: the real gateway is refused.
        (
            lambda ps: [
                p
                if p["metadata"]["name"] != "sentiment-app"
                else {
                    **p,
                    "spec": {
                        **p["spec"],
                        "ingress": [
                            {
                                **p["spec"]["ingress"][0],
                                "from": [
                                    {
                                        **p["spec"]["ingress"][0]["from"][0],
                                        "namespaceSelector": {
                                            "matchLabels": namespace_labels("elsewhere")
                                        },
                                    }
                                ],
                            }
                        ],
                    },
                }
                for p in ps
            ],
            None,
            ("ingress-gateway", "sentiment-app-v1", "TCP", 5001),
        ),
    ],
    ids=["no-default-deny", "wrong-gateway-namespace"],
)
def test_the_evaluation_notices_a_broken_policy(docs, mutate, extra, missing):
    others = [d for d in docs if d["kind"] != "NetworkPolicy"]
    broken = [*others, *mutate(copy.deepcopy(by_kind(docs, "NetworkPolicy")))]
    open_flows = flows(broken)
    if extra:
        assert extra in open_flows and extra not in needed(docs)
    if missing:
        assert missing not in open_flows and missing in needed(docs)
