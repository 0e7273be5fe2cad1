"""Envoy configuration for the local mesh and the deploy tests, made from the Istio resources.

istiod turns Gateway, VirtualService, DestinationRule and EnvoyFilter objects into Envoy
configuration for the ingress gateway. This module does the same for the subset of Istio's
API that deploy/istio/ uses, so that the routing and the rate limit exercised by a real Envoy
here are the ones in the manifests, not a hand-made copy:

- the Gateway's HTTP server port and hosts (one virtual host per VirtualService host, named
  ``host:port`` as istiod names it);
- sentiment-vs: header matches (exact, prefix, regex), uri matches (exact, prefix), subset
  destinations with optional weights, timeout and retries;
- the app's DestinationRule: subsets, connection pool limits, outlier detection;
- the sentiment-rate-limit EnvoyFilter: its HTTP_FILTER (INSERT_BEFORE) and VIRTUAL_HOST
  (MERGE) patches, applied where their match selects.

Anything else in those objects is rejected with an error instead of being ignored.

Command line (used by scripts/mesh.sh):
    python deploy/local/meshgen.py --port 8080 --admin-port 9901 \\
        --upstream v1=127.0.0.1:5001 --upstream v2=127.0.0.1:5002 > envoy.yaml
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ISTIO_DIR = REPO / "deploy" / "istio"

VIRTUAL_SERVICE = "sentiment-vs"
DESTINATION_RULE = "sentiment-app-destination"
GATEWAY = "sentiment-gateway"
RATE_LIMIT_FILTER = "sentiment-rate-limit"
LOCAL_RATELIMIT = "envoy.filters.http.local_ratelimit"
HCM = "envoy.filters.network.http_connection_manager"
HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
ROUTER = "envoy.filters.http.router"


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
    for dest in destinations:
        _only(dest, {"destination", "weight"}, "HTTPRouteDestination")
        _only(dest["destination"], {"host", "subset", "port"}, "Destination")
        if dest["destination"].get("subset") not in clusters:
            raise UnsupportedConfig(
                f"destination subset {dest['destination'].get('subset')!r} is not a subset of "
                f"{DESTINATION_RULE} (known: {sorted(clusters)})"
            )
    if len(destinations) == 1:
        action: dict = {"cluster": clusters[destinations[0]["destination"]["subset"]]}
    else:
        action = {
            "weighted_clusters": {
                "clusters": [
                    {
                        "name": clusters[d["destination"]["subset"]],
                        "weight": int(d.get("weight", 0)),
                    }
                    for d in destinations
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


def subset_clusters(
    docs: Iterable[dict], upstreams: Mapping[str, tuple[str, int]], port: int = 80
) -> tuple[dict[str, str], list[dict]]:
    """One Envoy cluster per subset of the app's DestinationRule, each sending to the address
    given for that subset. Returns (subset -> cluster name, clusters)."""
    dr = find(docs, "DestinationRule", DESTINATION_RULE)
    spec = dr["spec"]
    policy = _traffic_policy(spec.get("trafficPolicy") or {})
    names: dict[str, str] = {}
    clusters = []
    for subset in spec["subsets"]:
        _only(subset, {"name", "labels"}, "Subset")
        name = subset["name"]
        if name not in upstreams:
            raise LookupError(f"no upstream address given for subset {name}")
        address, upstream_port = upstreams[name]
        names[name] = cluster_name(spec["host"], port, name)
        clusters.append(
            {
                "name": names[name],
                "type": "STATIC",
                "connect_timeout": "2s",
                "load_assignment": {
                    "cluster_name": names[name],
                    "endpoints": [
                        {
                            "lb_endpoints": [
                                {
                                    "endpoint": {
                                        "address": {
                                            "socket_address": {
                                                "address": address,
                                                "port_value": upstream_port,
                                            }
                                        }
                                    }
                                }
                            ]
                        }
                    ],
                },
                **copy.deepcopy(policy),
            }
        )
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


def _check_gateway_selector(envoy_filter: Mapping) -> None:
    selector = (envoy_filter["spec"].get("workloadSelector") or {}).get("labels") or {}
    if selector != {"istio": "ingressgateway"}:
        raise UnsupportedConfig(f"{RATE_LIMIT_FILTER} must select the ingress gateway")


def apply_http_filter_patches(
    envoy_filter: Mapping, http_filters: list[dict], gateway_port: int
) -> list[dict]:
    _check_gateway_selector(envoy_filter)
    for patch in envoy_filter["spec"]["configPatches"]:
        if patch["applyTo"] != "HTTP_FILTER":
            continue
        match = patch["match"]
        if match.get("context") != "GATEWAY":
            raise UnsupportedConfig("HTTP_FILTER patches must target the GATEWAY context")
        listener = match.get("listener") or {}
        if "portNumber" in listener and listener["portNumber"] != gateway_port:
            continue
        chain_filter = (listener.get("filterChain") or {}).get("filter") or {}
        if chain_filter.get("name") != HCM:
            raise UnsupportedConfig("HTTP_FILTER patches must match the HTTP connection manager")
        op = patch["patch"]["operation"]
        value = copy.deepcopy(patch["patch"]["value"])
        sub = (chain_filter.get("subFilter") or {}).get("name")
        names = [f["name"] for f in http_filters]
        if op == "INSERT_BEFORE" and sub in names:
            http_filters.insert(names.index(sub), value)
        elif op == "INSERT_FIRST" or (op == "INSERT_BEFORE" and sub is None):
            http_filters.insert(0, value)
        else:
            raise UnsupportedConfig(f"HTTP_FILTER operation {op} on {sub!r} is not modelled")
    return http_filters


def apply_virtual_host_patches(
    envoy_filter: Mapping, virtual_hosts: list[dict], gateway_port: int
) -> list[dict]:
    _check_gateway_selector(envoy_filter)
    for patch in envoy_filter["spec"]["configPatches"]:
        if patch["applyTo"] != "VIRTUAL_HOST":
            continue
        match = patch["match"]
        if match.get("context") != "GATEWAY":
            raise UnsupportedConfig("VIRTUAL_HOST patches must target the GATEWAY context")
        route_config = match.get("routeConfiguration") or {}
        if route_config.get("portNumber", gateway_port) != gateway_port:
            continue
        wanted = (route_config.get("vhost") or {}).get("name")
        if patch["patch"]["operation"] != "MERGE":
            raise UnsupportedConfig("only MERGE is modelled for VIRTUAL_HOST patches")
        for vhost in virtual_hosts:
            if wanted in (None, vhost["name"]):
                proto_merge(vhost, patch["patch"]["value"])
    return virtual_hosts


def set_fill_interval(virtual_hosts: list[dict], fill_interval: str) -> list[dict]:
    """Replace every local rate limit token bucket's fill_interval (tests use a short one to
    see tokens come back without waiting a minute)."""
    for vhost in virtual_hosts:
        config = (vhost.get("typed_per_filter_config") or {}).get(LOCAL_RATELIMIT)
        if not config:
            continue
        buckets = [config.get("token_bucket")]
        buckets += [d.get("token_bucket") for d in config.get("descriptors", [])]
        for bucket in filter(None, buckets):
            bucket["fill_interval"] = fill_interval
    return virtual_hosts


# --- the gateway -----------------------------------------------------------------------------


def gateway_port_and_hosts(docs: Iterable[dict]) -> tuple[int, list[str]]:
    gateway = find(docs, "Gateway", GATEWAY)
    servers = [s for s in gateway["spec"]["servers"] if s["port"]["protocol"] == "HTTP"]
    if len(servers) != 1:
        raise UnsupportedConfig(f"{GATEWAY}: exactly one HTTP server expected")
    return int(servers[0]["port"]["number"]), list(servers[0]["hosts"])


def gateway_listener(
    docs: list[dict],
    clusters: Mapping[str, str],
    *,
    name: str,
    address: str,
    port: int,
    extra_domains: Iterable[str] = (),
    fill_interval: str | None = None,
) -> dict:
    """An Envoy listener that behaves like the ingress gateway's HTTP server for
    sentiment-vs, with the rate limit EnvoyFilter applied."""
    gw_port, gw_hosts = gateway_port_and_hosts(docs)
    vs = find(docs, "VirtualService", VIRTUAL_SERVICE)
    if GATEWAY not in vs["spec"].get("gateways", []) and (
        f"{vs['metadata']['namespace']}/{GATEWAY}" not in vs["spec"].get("gateways", [])
    ):
        raise UnsupportedConfig(f"{VIRTUAL_SERVICE} is not bound to {GATEWAY}")
    vs_routes = routes(vs, clusters)
    virtual_hosts = []
    for host in vs["spec"]["hosts"]:
        if host not in gw_hosts:
            raise UnsupportedConfig(f"{VIRTUAL_SERVICE} host {host} is not served by {GATEWAY}")
        domains = [host, f"{host}:*"]
        virtual_hosts.append(
            {"name": f"{host}:{gw_port}", "domains": domains, "routes": copy.deepcopy(vs_routes)}
        )
    for domain in extra_domains:
        for name in (domain, f"{domain}:*"):
            if name not in virtual_hosts[0]["domains"]:
                virtual_hosts[0]["domains"].append(name)
    envoy_filter = find(docs, "EnvoyFilter", RATE_LIMIT_FILTER)
    apply_virtual_host_patches(envoy_filter, virtual_hosts, gw_port)
    if fill_interval:
        set_fill_interval(virtual_hosts, fill_interval)
    http_filters = [
        {
            "name": ROUTER,
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
            },
        }
    ]
    apply_http_filter_patches(envoy_filter, http_filters, gw_port)
    return {
        "name": name,
        "address": {"socket_address": {"address": address, "port_value": port}},
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": HCM,
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.network."
                            "http_connection_manager.v3.HttpConnectionManager",
                            "stat_prefix": name,
                            # As on Istio gateways: the client is the downstream peer.
                            "use_remote_address": True,
                            "route_config": {
                                "name": f"http.{gw_port}",
                                "virtual_hosts": virtual_hosts,
                            },
                            "http_filters": http_filters,
                        },
                    }
                ]
            }
        ],
    }


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
) -> dict:
    """The local gateway: one listener in front of the subsets' upstreams."""
    names, clusters = subset_clusters(docs, upstreams)
    listener = gateway_listener(
        docs, names, name="gateway", address=address, port=port, extra_domains=extra_domains
    )
    return bootstrap([listener], clusters, admin_port)


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host, int(port)


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
    args = parser.parse_args(argv)
    upstreams = {}
    for item in args.upstream:
        subset, _, address = item.partition("=")
        upstreams[subset] = _address(address)
    config = build(
        render(args.kustomize_dir),
        port=args.port,
        admin_port=args.admin_port,
        upstreams=upstreams,
        address=args.address,
        extra_domains=args.domain,
    )
    yaml.safe_dump(config, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
