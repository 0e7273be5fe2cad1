"""Envoy configuration for the local mesh and the deploy tests, made from the Istio resources.

istiod turns Gateway, VirtualService, DestinationRule, AuthorizationPolicy and EnvoyFilter
objects into Envoy configuration for the ingress gateway. This module does the same for the
subset of Istio's API that deploy/istio/ uses, so that the routing, the access policy and the
rate limit exercised by a real Envoy here are the ones in the manifests, not a hand-made copy:

- the Gateway's servers: HTTP (optionally redirecting to HTTPS) and HTTPS with a
  credentialName (a local certificate stands in for the Secret); one virtual host per
  VirtualService host, named ``host:port`` as istiod names it;
- sentiment-vs: header matches (exact, prefix, regex), uri matches (exact, prefix), subset
  destinations with optional weights, timeout and retries; the other VirtualServices bound to
  the gateway (Prometheus, Grafana) when their destinations are given addresses;
- the app's DestinationRule: subsets, connection pool limits, outlier detection;
- AuthorizationPolicies selecting the gateway (hosts, remoteIpBlocks, notRemoteIpBlocks) as
  RBAC filters, shaped as pilot/pkg/security/authz builds them;
- the sentiment-rate-limit EnvoyFilter: HTTP_FILTER (INSERT_BEFORE) and NETWORK_FILTER (MERGE
  into the HTTP connection manager) patches, applied where their match selects;
- the model canary: sentiment-model-vs (bound to the mesh only) and the model's
  DestinationRule become a second listener, the outbound side of the web app's sidecar for
  the model Service, with the same route translation and one cluster per model subset.

Anything else in those objects is rejected with an error instead of being ignored. The model
listener is the callers' side of the model Service; who may call it (AuthorizationPolicy
sentiment-model-callers, on mTLS identities) is enforced by the model pods' own sidecars, which
local processes without mesh identities have no counterpart of: the deploy tests check that
policy on the manifests instead.

Command line (used by scripts/mesh.sh):
    python deploy/local/meshgen.py --port 8080 --admin-port 9901 \\
        --upstream v1=127.0.0.1:5001 --upstream v2=127.0.0.1:5002 \\
        [--model-port 8081 --model-upstream v1=127.0.0.1:5000 \\
         --model-upstream v2=127.0.0.1:5004] \\
        [--tls-cert cert.pem --tls-key key.pem --tls-port 8443] > envoy.yaml
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ISTIO_DIR = REPO / "deploy" / "istio"

VIRTUAL_SERVICE = "sentiment-vs"
DESTINATION_RULE = "sentiment-app-destination"
MODEL_VIRTUAL_SERVICE = "sentiment-model-vs"
MODEL_DESTINATION_RULE = "sentiment-model-destination"
# Istio's name for the sidecars of every workload, the only binding the model route may have.
MESH = "mesh"
GATEWAY = "sentiment-gateway"
RATE_LIMIT_FILTER = "sentiment-rate-limit"
LOCAL_RATELIMIT = "envoy.filters.http.local_ratelimit"
HCM = "envoy.filters.network.http_connection_manager"
HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
ROUTER = "envoy.filters.http.router"
RBAC = "envoy.filters.http.rbac"


class UnsupportedConfig(ValueError):
    """The Istio object uses something this translator does not model."""


# --- loading -------------------------------------------------------------------------------


def render(kustomize_dir: Path = ISTIO_DIR) -> list[dict]:
    """The objects of a kustomization: ``kubectl kustomize`` when kubectl is installed,
    otherwise the files its ``resources`` list (enough for the objects used here, which no
    kustomize transformation touches)."""
    kubectl = shutil.which("kubectl")
    if kubectl:
        out = subprocess.run(
            [kubectl, "kustomize", str(kustomize_dir)], check=True, capture_output=True, text=True
        ).stdout
        return parse(out)
    kustomization = yaml.safe_load((kustomize_dir / "kustomization.yaml").read_text())
    docs: list[dict] = []
    for resource in kustomization.get("resources", []):
        docs.extend(parse((kustomize_dir / resource).read_text()))
    return [d for d in docs if not _local_config(d)]


def parse(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _local_config(doc: dict) -> bool:
    annotations = doc.get("metadata", {}).get("annotations") or {}
    return annotations.get("config.kubernetes.io/local-config") == "true"


def find(docs: Iterable[dict], kind: str, name: str) -> dict:
    matches = [d for d in docs if d.get("kind") == kind and d["metadata"]["name"] == name]
    if len(matches) != 1:
        raise LookupError(f"expected exactly one {kind} {name}, found {len(matches)}")
    return matches[0]


# --- small conversions -----------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def duration(value: str) -> str:
    """An Istio duration ("1m30s", "500ms") as Envoy's JSON form ("90s", "0.5s")."""
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise UnsupportedConfig(f"unsupported duration {value!r}")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    return f"{seconds:g}s"


def cluster_name(host: str, port: int, subset: str) -> str:
    """istiod's name for the cluster of one subset of a service."""
    return f"outbound|{port}|{subset}|{host}"


def _only(mapping: Mapping, allowed: set[str], what: str) -> None:
    unknown = set(mapping) - allowed
    if unknown:
        raise UnsupportedConfig(f"{what}: unsupported fields {sorted(unknown)}")


# --- VirtualService -> routes ----------------------------------------------------------------


def string_match(spec: Mapping, what: str) -> dict:
    """Istio StringMatch -> Envoy StringMatcher."""
    if len(spec) != 1:
        raise UnsupportedConfig(f"{what}: exactly one of exact/prefix/regex expected")
    kind, value = next(iter(spec.items()))
    if kind == "exact":
        return {"exact": value}
    if kind == "prefix":
        return {"prefix": value}
    if kind == "regex":
        return {"safe_regex": {"regex": value}}
    raise UnsupportedConfig(f"{what}: unsupported string match {kind!r}")


def route_match(match: Mapping | None) -> dict:
    """One Istio HTTPMatchRequest -> Envoy RouteMatch (every condition must hold)."""
    match = match or {}
    _only(match, {"name", "headers", "uri"}, "HTTPMatchRequest")
    result: dict = {"prefix": "/"}
    uri = match.get("uri")
    if uri:
        _only(uri, {"exact", "prefix"}, "uri match")
        result = {"path": uri["exact"]} if "exact" in uri else {"prefix": uri["prefix"]}
    headers = [
        {"name": name.lower(), "string_match": string_match(spec, f"header {name}")}
        for name, spec in (match.get("headers") or {}).items()
    ]
    if headers:
        result["headers"] = headers
    return result


def route_action(http: Mapping, clusters: Mapping[str, str]) -> dict:
    """The destinations, timeout and retries of an Istio HTTPRoute -> Envoy RouteAction."""
    destinations = http["route"]
    keys = []
    for dest in destinations:
        _only(dest, {"destination", "weight"}, "HTTPRouteDestination")
        _only(dest["destination"], {"host", "subset", "port"}, "Destination")
        # A subset of the DestinationRule, or a whole service (the monitoring UIs).
        key = dest["destination"].get("subset") or dest["destination"]["host"]
        if key not in clusters:
            raise UnsupportedConfig(
                f"destination {key!r} is neither a subset of the DestinationRule nor a "
                f"service given an address (known: {sorted(clusters)})"
            )
        keys.append(key)
    if len(destinations) == 1:
        action: dict = {"cluster": clusters[keys[0]]}
    else:
        action = {
            "weighted_clusters": {
                "clusters": [
                    {"name": clusters[key], "weight": int(d.get("weight", 0))}
                    for key, d in zip(keys, destinations, strict=True)
                ]
            }
        }
    if "timeout" in http:
        action["timeout"] = duration(http["timeout"])
    retries = http.get("retries")
    if retries:
        _only(retries, {"attempts", "perTryTimeout", "retryOn"}, "HTTPRetry")
        policy: dict = {"num_retries": int(retries["attempts"])}
        if "retryOn" in retries:
            policy["retry_on"] = retries["retryOn"]
        if "perTryTimeout" in retries:
            policy["per_try_timeout"] = duration(retries["perTryTimeout"])
        action["retry_policy"] = policy
    return action


def routes(vs: Mapping, clusters: Mapping[str, str]) -> list[dict]:
    """Envoy routes for a VirtualService, in order: one route per match (matches are ORed)."""
    result = []
    for http in vs["spec"]["http"]:
        _only(http, {"name", "match", "route", "timeout", "retries"}, "HTTPRoute")
        action = route_action(http, clusters)
        for match in http.get("match") or [None]:
            result.append(
                {
                    "name": http.get("name", ""),
                    "match": route_match(match),
                    "route": copy.deepcopy(action),
                }
            )
    return result


# --- DestinationRule -> clusters -------------------------------------------------------------


def _traffic_policy(policy: Mapping) -> dict:
    _only(policy, {"connectionPool", "outlierDetection"}, "TrafficPolicy")
    cluster: dict = {}
    pool = policy.get("connectionPool") or {}
    tcp, http = pool.get("tcp") or {}, pool.get("http") or {}
    _only(tcp, {"maxConnections", "connectTimeout"}, "TCPSettings")
    _only(
        http,
        {"http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries"},
        "HTTPSettings",
    )
    thresholds = {
        key: int(source[field])
        for key, source, field in (
            ("max_connections", tcp, "maxConnections"),
            ("max_pending_requests", http, "http1MaxPendingRequests"),
            ("max_requests", http, "http2MaxRequests"),
            ("max_retries", http, "maxRetries"),
        )
        if field in source
    }
    if thresholds:
        cluster["circuit_breakers"] = {"thresholds": [thresholds]}
    if "connectTimeout" in tcp:
        cluster["connect_timeout"] = duration(tcp["connectTimeout"])
    if "maxRequestsPerConnection" in http:
        cluster["typed_extension_protocol_options"] = {
            HTTP_PROTOCOL_OPTIONS: {
                "@type": f"type.googleapis.com/{HTTP_PROTOCOL_OPTIONS}",
                "common_http_protocol_options": {
                    "max_requests_per_connection": int(http["maxRequestsPerConnection"])
                },
                "explicit_http_config": {"http_protocol_options": {}},
            }
        }
    outlier = policy.get("outlierDetection")
    if outlier:
        _only(
            outlier,
            {"consecutive5xxErrors", "interval", "baseEjectionTime", "maxEjectionPercent"},
            "OutlierDetection",
        )
        detection: dict = {}
        if "consecutive5xxErrors" in outlier:
            detection["consecutive_5xx"] = int(outlier["consecutive5xxErrors"])
        if "interval" in outlier:
            detection["interval"] = duration(outlier["interval"])
        if "baseEjectionTime" in outlier:
            detection["base_ejection_time"] = duration(outlier["baseEjectionTime"])
        if "maxEjectionPercent" in outlier:
            detection["max_ejection_percent"] = int(outlier["maxEjectionPercent"])
        cluster["outlier_detection"] = detection
    return cluster


def static_cluster(name: str, address: str, port: int, **extra) -> dict:
    """A cluster of one fixed address (locally, every destination is one process)."""
    endpoint = {"address": {"socket_address": {"address": address, "port_value": port}}}
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "2s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": endpoint}]}],
        },
        **extra,
    }


def subset_clusters(
    docs: Iterable[dict],
    upstreams: Mapping[str, tuple[str, int]],
    port: int = 80,
    rule: str = DESTINATION_RULE,
) -> tuple[dict[str, str], list[dict]]:
    """One Envoy cluster per subset of a DestinationRule (by default the app's), each sending
    to the address given for that subset. Returns (subset -> cluster name, clusters)."""
    dr = find(docs, "DestinationRule", rule)
    spec = dr["spec"]
    _only(spec, {"host", "trafficPolicy", "subsets"}, rule)
    policy = _traffic_policy(spec.get("trafficPolicy") or {})
    names: dict[str, str] = {}
    clusters = []
    for subset in spec["subsets"]:
        _only(subset, {"name", "labels"}, "Subset")
        name = subset["name"]
        if name not in upstreams:
            raise LookupError(f"no upstream address given for subset {name}")
        names[name] = cluster_name(spec["host"], port, name)
        clusters.append(static_cluster(names[name], *upstreams[name], **copy.deepcopy(policy)))
    return names, clusters


def service_clusters(
    docs: Iterable[dict], services: Mapping[str, tuple[str, int]]
) -> tuple[dict[str, str], list[dict]]:
    """Clusters for the subset-less destinations of the VirtualServices bound to the gateway
    (Prometheus, Grafana) that are given an address. Returns (host -> cluster name, clusters)."""
    names: dict[str, str] = {}
    clusters = []
    for vs in _bound_virtual_services(docs):
        for dest in (d["destination"] for http in vs["spec"]["http"] for d in http["route"]):
            host = dest["host"]
            if "subset" in dest or host not in services or host in names:
                continue
            names[host] = cluster_name(host, int(dest["port"]["number"]), "")
            clusters.append(static_cluster(names[host], *services[host]))
    return names, clusters


# --- EnvoyFilter patches ---------------------------------------------------------------------


def proto_merge(target: dict, patch: Mapping) -> dict:
    """Protobuf merge semantics (what EnvoyFilter MERGE does): messages merge field by field,
    repeated fields are appended, scalars are replaced."""
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            proto_merge(target[key], value)
        elif isinstance(value, list) and isinstance(target.get(key), list):
            target[key].extend(copy.deepcopy(value))
        else:
            target[key] = copy.deepcopy(value)
    return target


def gateway_selector(docs: Iterable[dict]) -> dict:
    return dict(find(docs, "Gateway", GATEWAY)["spec"]["selector"])


def _check_selects_gateway(labels: Mapping | None, gateway_labels: Mapping, what: str) -> None:
    if dict(labels or {}) != dict(gateway_labels):
        raise UnsupportedConfig(
            f"{what} must select the ingress gateway ({dict(gateway_labels)}), not {labels}"
        )


def _gateway_patches(envoy_filter: Mapping, gateway_labels: Mapping, port: int) -> list[dict]:
    """The filter's patches that apply to a gateway listener on ``port`` (the Gateway server's
    port, as istiod matches portNumber), after checking that each is one this module models:
    HTTP_FILTER and NETWORK_FILTER patches on the HTTP connection manager, context GATEWAY."""
    _check_selects_gateway(
        (envoy_filter["spec"].get("workloadSelector") or {}).get("labels"),
        gateway_labels,
        RATE_LIMIT_FILTER,
    )
    selected = []
    for patch in envoy_filter["spec"]["configPatches"]:
        apply_to, match = patch["applyTo"], patch["match"]
        if apply_to not in {"HTTP_FILTER", "NETWORK_FILTER"}:
            raise UnsupportedConfig(f"{apply_to} patches are not modelled")
        if match.get("context") != "GATEWAY":
            raise UnsupportedConfig(f"{apply_to} patches must target the GATEWAY context")
        listener = match.get("listener") or {}
        _only(listener, {"portNumber", "filterChain"}, f"{apply_to} listener match")
        chain = listener.get("filterChain") or {}
        _only(chain, {"filter"}, f"{apply_to} filterChain match")
        if (chain.get("filter") or {}).get("name") != HCM:
            raise UnsupportedConfig(f"{apply_to} patches must match the HTTP connection manager")
        if listener.get("portNumber", port) == port:
            selected.append(patch)
    return selected


def apply_http_filter_patches(patches: Iterable[Mapping], http_filters: list[dict]) -> list[dict]:
    for patch in patches:
        if patch["applyTo"] != "HTTP_FILTER":
            continue
        op = patch["patch"]["operation"]
        value = copy.deepcopy(patch["patch"]["value"])
        sub = ((patch["match"]["listener"]["filterChain"]["filter"]).get("subFilter") or {}).get(
            "name"
        )
        names = [f["name"] for f in http_filters]
        if op == "INSERT_BEFORE" and sub in names:
            http_filters.insert(names.index(sub), value)
        elif op == "INSERT_FIRST" or (op == "INSERT_BEFORE" and sub is None):
            http_filters.insert(0, value)
        else:
            raise UnsupportedConfig(f"HTTP_FILTER operation {op} on {sub!r} is not modelled")
    return http_filters


def apply_network_filter_patches(patches: Iterable[Mapping], hcm: dict) -> dict:
    """MERGE into the connection manager (the only NETWORK_FILTER operation modelled)."""
    for patch in patches:
        if patch["applyTo"] != "NETWORK_FILTER":
            continue
        if patch["patch"]["operation"] != "MERGE":
            raise UnsupportedConfig("only MERGE is modelled for NETWORK_FILTER patches")
        value = patch["patch"]["value"]
        _only(value, {"typed_config"}, "NETWORK_FILTER MERGE value")
        if value["typed_config"].get("@type") != hcm["typed_config"]["@type"]:
            raise UnsupportedConfig("NETWORK_FILTER MERGE must carry the HCM's @type")
        proto_merge(hcm, value)
    return hcm


def set_fill_interval(http_filters: list[dict], fill_interval: str) -> list[dict]:
    """Replace every local rate limit token bucket's fill_interval (tests use a short one to
    see tokens come back without waiting a minute)."""
    for config in (f["typed_config"] for f in http_filters if f["name"] == LOCAL_RATELIMIT):
        buckets = [config.get("token_bucket")]
        buckets += [d.get("token_bucket") for d in config.get("descriptors", [])]
        for bucket in filter(None, buckets):
            bucket["fill_interval"] = fill_interval
    return http_filters


# --- AuthorizationPolicy -> RBAC filter --------------------------------------------------------


def host_matcher(host: str) -> dict:
    """istiod's matcher for an operation host (pilot/pkg/security/authz/matcher HostMatcher):
    exact, or prefix/suffix for a trailing/leading "*", always ignoring case."""
    if host == "*":
        return {"name": ":authority", "present_match": True}
    if host.startswith("*"):
        match = {"suffix": host[1:], "ignore_case": True}
    elif host.endswith("*"):
        match = {"prefix": host[:-1], "ignore_case": True}
    else:
        match = {"exact": host, "ignore_case": True}
    return {"name": ":authority", "string_match": match}


def cidr_range(block: str) -> dict:
    network = ipaddress.ip_network(block, strict=False)
    return {"address_prefix": str(network.network_address), "prefix_len": network.prefixlen}


def _remote_ips(blocks: Iterable[str]) -> dict:
    return {"or_ids": {"ids": [{"remote_ip": cidr_range(b)} for b in blocks]}}


def rbac_policy(rule: Mapping) -> dict:
    """One AuthorizationPolicy rule -> an Envoy RBAC policy, shaped as istiod builds it: the
    `to` entries ORed, each an AND of its fields (each field an OR of its values); the same for
    `from`."""
    _only(rule, {"from", "to"}, "AuthorizationPolicy rule")
    permissions: list[dict] = []
    for to in rule.get("to") or []:
        _only(to, {"operation"}, "rule.to")
        operation = to["operation"]
        _only(operation, {"hosts"}, "rule.to.operation")
        hosts = [{"header": host_matcher(h)} for h in operation["hosts"]]
        permissions.append({"and_rules": {"rules": [{"or_rules": {"rules": hosts}}]}})
    principals: list[dict] = []
    for source in (f["source"] for f in rule.get("from") or []):
        _only(source, {"remoteIpBlocks", "notRemoteIpBlocks"}, "rule.from.source")
        ids = []
        if "remoteIpBlocks" in source:
            ids.append(_remote_ips(source["remoteIpBlocks"]))
        if "notRemoteIpBlocks" in source:
            ids.append({"not_id": _remote_ips(source["notRemoteIpBlocks"])})
        principals.append({"and_ids": {"ids": ids}})
    return {
        "permissions": permissions or [{"any": True}],
        "principals": principals or [{"any": True}],
    }


def rbac_filters(docs: Iterable[dict], gateway_labels: Mapping) -> list[dict]:
    """The RBAC filters istiod puts first in the gateway's HTTP filters for the
    AuthorizationPolicies that select the gateway: DENY before ALLOW."""
    policies: dict[str, dict] = {"DENY": {}, "ALLOW": {}}
    for policy in (d for d in docs if d.get("kind") == "AuthorizationPolicy"):
        labels = (policy["spec"].get("selector") or {}).get("matchLabels")
        if dict(labels or {}) != dict(gateway_labels):
            continue  # another workload's policy
        spec, meta = policy["spec"], policy["metadata"]
        _only(spec, {"selector", "action", "rules"}, "AuthorizationPolicy")
        action = spec.get("action", "ALLOW")
        if action not in policies:
            raise UnsupportedConfig(f"AuthorizationPolicy action {action} is not modelled")
        for i, rule in enumerate(spec.get("rules") or []):
            name = f"ns[{meta['namespace']}]-policy[{meta['name']}]-rule[{i}]"
            policies[action][name] = rbac_policy(rule)
    return [
        {
            "name": RBAC,
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
                "rules": {"action": action, "policies": rules},
            },
        }
        for action, rules in policies.items()
        if rules
    ]


# --- the gateway -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tls:
    """The certificate a local HTTPS listener serves (the Secret credentialName names)."""

    cert: Path
    key: Path


def gateway_servers(docs: Iterable[dict]) -> list[dict]:
    """The Gateway's servers: HTTP ones (optionally redirecting to HTTPS) and HTTPS ones
    terminating TLS with a credentialName (mode SIMPLE)."""
    servers = find(docs, "Gateway", GATEWAY)["spec"]["servers"]
    for server in servers:
        _only(server, {"port", "hosts", "tls", "name"}, "Gateway server")
        protocol, tls = server["port"]["protocol"], server.get("tls") or {}
        if protocol == "HTTP":
            _only(tls, {"httpsRedirect"}, "HTTP server tls")
        elif protocol == "HTTPS":
            _only(tls, {"mode", "credentialName", "minProtocolVersion"}, "HTTPS server tls")
            if tls.get("mode") != "SIMPLE" or not tls.get("credentialName"):
                raise UnsupportedConfig("HTTPS servers: mode SIMPLE with a credentialName")
        else:
            raise UnsupportedConfig(f"{GATEWAY}: unsupported server protocol {protocol}")
    if not [s for s in servers if s["port"]["protocol"] == "HTTP"]:
        raise UnsupportedConfig(f"{GATEWAY}: an HTTP server is expected")
    return servers


def gateway_server(docs: Iterable[dict], port: int | None = None) -> dict:
    """The server on a Gateway port; without a port, the HTTP server."""
    servers = gateway_servers(docs)
    found = [
        s
        for s in servers
        if (s["port"]["protocol"] == "HTTP" if port is None else s["port"]["number"] == port)
    ]
    if len(found) != 1:
        raise UnsupportedConfig(f"{GATEWAY}: expected one server on port {port or 'HTTP'}")
    return found[0]


def _bound_virtual_services(docs: Iterable[dict]) -> list[dict]:
    result = []
    for vs in (d for d in docs if d.get("kind") == "VirtualService"):
        gateways = vs["spec"].get("gateways", [])
        if GATEWAY in gateways or f"{vs['metadata']['namespace']}/{GATEWAY}" in gateways:
            result.append(vs)
        elif vs["metadata"]["name"] == VIRTUAL_SERVICE:
            raise UnsupportedConfig(f"{VIRTUAL_SERVICE} is not bound to {GATEWAY}")
    return result


def _destination_keys(vs: Mapping) -> set[str]:
    return {
        d["destination"].get("subset") or d["destination"]["host"]
        for http in vs["spec"]["http"]
        for d in http["route"]
    }


def virtual_hosts(
    docs: list[dict],
    server: Mapping,
    clusters: Mapping[str, str],
    extra_domains: Iterable[str],
    https_redirect: bool = True,
) -> list[dict]:
    """One virtual host per VirtualService host on this server, named "<host>:<server port>"
    as istiod names them. sentiment-vs is always translated; another VirtualService bound to
    the gateway (Prometheus, Grafana) only when its destinations were given addresses. An
    httpsRedirect server's hosts require TLS (a 301 to https://host/), unless https_redirect
    is False."""
    port, hosts = int(server["port"]["number"]), list(server["hosts"])
    result: list[dict] = []
    for vs in _bound_virtual_services(docs):
        is_app = vs["metadata"]["name"] == VIRTUAL_SERVICE
        if not is_app and not _destination_keys(vs) <= set(clusters):
            continue
        vs_routes = routes(vs, clusters)
        for host in vs["spec"]["hosts"]:
            if host not in hosts:
                raise UnsupportedConfig(f"{vs['metadata']['name']} host {host} is not served")
            domains = [host, f"{host}:*"]
            if is_app and not result:
                for domain in extra_domains:
                    domains += [d for d in (domain, f"{domain}:*") if d not in domains]
            vhost = {"name": f"{host}:{port}", "domains": domains, "routes": vs_routes}
            if https_redirect and (server.get("tls") or {}).get("httpsRedirect"):
                vhost["require_tls"] = "ALL"
            result.append(copy.deepcopy(vhost))
    return result


def _route_config_name(server: Mapping) -> str:
    """istiod's RDS name: "http.<port>" for plain HTTP, one per server for HTTPS."""
    port = server["port"]
    if port["protocol"] == "HTTP":
        return f"http.{port['number']}"
    return f"https.{port['number']}.{port['name']}.{GATEWAY}"


# Istio's ServerTLSSettings.TLSProtocol -> Envoy's TlsParameters.TlsProtocol.
_TLS_VERSIONS = {f"TLSV1_{n}": f"TLSv1_{n}" for n in range(4)}


def _tls_transport_socket(tls: Tls, server_tls: Mapping) -> dict:
    params = {}
    if "minProtocolVersion" in server_tls:
        if server_tls["minProtocolVersion"] not in _TLS_VERSIONS:
            raise UnsupportedConfig(f"minProtocolVersion {server_tls['minProtocolVersion']}")
        params["tls_minimum_protocol_version"] = _TLS_VERSIONS[server_tls["minProtocolVersion"]]
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
            "DownstreamTlsContext",
            "common_tls_context": {
                **({"tls_params": params} if params else {}),
                "alpn_protocols": ["h2", "http/1.1"],
                "tls_certificates": [
                    {
                        "certificate_chain": {"filename": str(tls.cert)},
                        "private_key": {"filename": str(tls.key)},
                    }
                ],
            },
        },
    }


def gateway_listener(
    docs: list[dict],
    clusters: Mapping[str, str],
    *,
    name: str,
    address: str,
    port: int,
    server_port: int | None = None,
    tls: Tls | None = None,
    extra_domains: Iterable[str] = (),
    fill_interval: str | None = None,
    https_redirect: bool = True,
) -> dict:
    """An Envoy listener that behaves like one server of the ingress gateway (the one on
    ``server_port``, by default the HTTP one): its virtual hosts, the AuthorizationPolicies and
    the rate limit EnvoyFilter applied as istiod applies them. https_redirect=False serves the
    app on an httpsRedirect server instead of redirecting."""
    server = gateway_server(docs, server_port)
    gw_port = int(server["port"]["number"])
    if (server["port"]["protocol"] == "HTTPS") != (tls is not None):
        raise UnsupportedConfig(f"port {gw_port}: a certificate is needed exactly for HTTPS")
    labels = gateway_selector(docs)
    patches = _gateway_patches(find(docs, "EnvoyFilter", RATE_LIMIT_FILTER), labels, gw_port)
    http_filters = rbac_filters(docs, labels) + apply_http_filter_patches(patches, [_router()])
    if fill_interval:
        set_fill_interval(http_filters, fill_interval)
    route_config = {
        "name": _route_config_name(server),
        "virtual_hosts": virtual_hosts(docs, server, clusters, extra_domains, https_redirect),
    }
    hcm = _http_connection_manager(name, route_config, http_filters)
    # As on Istio gateways: the client is the downstream peer.
    hcm["typed_config"]["use_remote_address"] = True
    apply_network_filter_patches(patches, hcm)
    chain: dict = {"filters": [hcm]}
    if tls:
        chain["transport_socket"] = _tls_transport_socket(tls, server["tls"])
    return _listener(name, address, port, chain)


def _router() -> dict:
    return {
        "name": ROUTER,
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
        },
    }


def _http_connection_manager(stat_prefix: str, route_config: dict, http_filters: list) -> dict:
    return {
        "name": HCM,
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network."
            "http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": stat_prefix,
            "route_config": route_config,
            "http_filters": http_filters,
        },
    }


def _listener(name: str, address: str, port: int, chain: dict) -> dict:
    return {
        "name": name,
        "address": {"socket_address": {"address": address, "port_value": port}},
        "filter_chains": [chain],
    }


# --- the model Service, as the web app's sidecar calls it -------------------------------------


def model_route_port(docs: Iterable[dict]) -> int:
    """The model Service port that sentiment-model-vs routes to, after checking that the
    VirtualService is one this module models: bound to the mesh only, for the model
    DestinationRule's host, every destination a subset of that host on one port."""
    vs = find(docs, "VirtualService", MODEL_VIRTUAL_SERVICE)
    spec = vs["spec"]
    _only(spec, {"hosts", "gateways", "http"}, MODEL_VIRTUAL_SERVICE)
    if spec.get("gateways") != [MESH]:
        raise UnsupportedConfig(
            f"{MODEL_VIRTUAL_SERVICE} must be bound to the mesh only, not {spec.get('gateways')}"
        )
    host = find(docs, "DestinationRule", MODEL_DESTINATION_RULE)["spec"]["host"]
    if spec["hosts"] != [host]:
        raise UnsupportedConfig(f"{MODEL_VIRTUAL_SERVICE}: hosts must be [{host}]")
    ports = set()
    for http in spec["http"]:
        for dest in (d["destination"] for d in http["route"]):
            if dest.get("host") != host or "subset" not in dest:
                raise UnsupportedConfig(
                    f"{MODEL_VIRTUAL_SERVICE}: destinations are subsets of {host}, not {dest}"
                )
            ports.add(int((dest.get("port") or {}).get("number", 0)))
    if len(ports) != 1 or 0 in ports:
        raise UnsupportedConfig(f"{MODEL_VIRTUAL_SERVICE}: one destination port expected")
    return ports.pop()


def model_clusters(
    docs: Iterable[dict], upstreams: Mapping[str, tuple[str, int]]
) -> tuple[dict[str, str], list[dict]]:
    """One cluster per subset of the model's DestinationRule (subset -> cluster name,
    clusters), named as istiod names them for the routed port."""
    return subset_clusters(
        docs, upstreams, port=model_route_port(docs), rule=MODEL_DESTINATION_RULE
    )


def model_listener(
    docs: list[dict],
    clusters: Mapping[str, str],
    *,
    name: str,
    address: str,
    port: int,
    extra_domains: Iterable[str] = (),
) -> dict:
    """An Envoy listener that behaves like the outbound side of a caller's sidecar for the
    model Service: the routes of sentiment-model-vs in one virtual host named
    "<host>:<port>", with the RDS name istiod gives a sidecar's outbound port. Unlike the
    gateway, a sidecar keeps the caller's address out of X-Forwarded-For and has no RBAC or
    rate limit on this path."""
    route_port = model_route_port(docs)
    vs = find(docs, "VirtualService", MODEL_VIRTUAL_SERVICE)
    (host,) = vs["spec"]["hosts"]
    domains = [host, f"{host}:*"]
    for domain in extra_domains:
        domains += [d for d in (domain, f"{domain}:*") if d not in domains]
    route_config = {
        "name": str(route_port),
        "virtual_hosts": [
            {"name": f"{host}:{route_port}", "domains": domains, "routes": routes(vs, clusters)}
        ],
    }
    hcm = _http_connection_manager(name, route_config, [_router()])
    return _listener(name, address, port, {"filters": [hcm]})


def bootstrap(listeners: list[dict], clusters: list[dict], admin_port: int) -> dict:
    return {
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}
        },
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }


def build(
    docs: list[dict],
    *,
    port: int,
    admin_port: int,
    upstreams: Mapping[str, tuple[str, int]],
    address: str = "127.0.0.1",
    extra_domains: Iterable[str] = (),
    tls: Tls | None = None,
    tls_port: int = 8443,
    model_port: int | None = None,
    model_upstreams: Mapping[str, tuple[str, int]] | None = None,
) -> dict:
    """The local gateway: a listener for the Gateway's HTTP server and, given a certificate,
    one for its HTTPS server, in front of the subsets' upstreams. The HTTP listener serves the
    app even where the Gateway redirects to HTTPS: locally there may be no HTTPS listener,
    and a redirect keeps the port, which here is not 443. Given model_port and the model
    subsets' upstreams, also the web app's outbound listener for the model Service."""
    if (model_port is None) != (model_upstreams is None):
        raise ValueError("model_port and model_upstreams go together")
    if model_port is not None:
        model_route_port(docs)  # its own errors first, clearer than the gateway's
    names, clusters = subset_clusters(docs, upstreams)
    listeners = [
        gateway_listener(
            docs,
            names,
            name="gateway",
            address=address,
            port=port,
            extra_domains=extra_domains,
            https_redirect=False,
        )
    ]
    if tls:
        https = [s for s in gateway_servers(docs) if s["port"]["protocol"] == "HTTPS"]
        if len(https) != 1:
            raise UnsupportedConfig(f"a certificate was given but {GATEWAY} has no HTTPS server")
        listeners.append(
            gateway_listener(
                docs,
                names,
                name="gateway_https",
                address=address,
                port=tls_port,
                server_port=int(https[0]["port"]["number"]),
                tls=tls,
                extra_domains=extra_domains,
            )
        )
    if model_port is not None and model_upstreams is not None:
        model_names, more_clusters = model_clusters(docs, model_upstreams)
        clusters += more_clusters
        listeners.append(
            model_listener(
                docs,
                model_names,
                name="model",
                address=address,
                port=model_port,
                extra_domains=extra_domains,
            )
        )
    return bootstrap(listeners, clusters, admin_port)


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host, int(port)


def _upstreams(items: Iterable[str]) -> dict[str, tuple[str, int]]:
    """SUBSET=HOST:PORT arguments as {subset: (host, port)}."""
    result = {}
    for item in items:
        subset, _, address = item.partition("=")
        result[subset] = _address(address)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kustomize-dir", type=Path, default=ISTIO_DIR)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--admin-port", type=int, default=9901)
    parser.add_argument(
        "--upstream", action="append", default=[], metavar="SUBSET=HOST:PORT", required=True
    )
    parser.add_argument("--domain", action="append", default=[], help="extra Host to accept")
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate: serve HTTPS as well")
    parser.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    parser.add_argument("--tls-port", type=int, default=8443)
    parser.add_argument("--model-port", type=int, help="serve the model Service's route here")
    parser.add_argument("--model-upstream", action="append", default=[], metavar="SUBSET=HOST:PORT")
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if (args.model_port is None) != (not args.model_upstream):
        parser.error("--model-port and --model-upstream go together")
    upstreams = _upstreams(args.upstream)
    config = build(
        render(args.kustomize_dir),
        port=args.port,
        admin_port=args.admin_port,
        upstreams=upstreams,
        address=args.address,
        extra_domains=args.domain,
        tls=Tls(args.tls_cert.resolve(), args.tls_key.resolve()) if args.tls_cert else None,
        tls_port=args.tls_port,
        model_port=args.model_port,
        model_upstreams=_upstreams(args.model_upstream) if args.model_upstream else None,
    )
    yaml.safe_dump(config, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
