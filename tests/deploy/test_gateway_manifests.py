"""The rendered objects that configure the ingress gateway itself: the rate limit EnvoyFilter
and the monitoring hosts' AuthorizationPolicy. (Their behaviour in a real Envoy is in
test_gateway_envoy.py; here, what a reviewer of the rendered YAML checks.)"""

import ipaddress

from tests.deploy.manifests import one

# Loopback and the private networks (RFC 1918, RFC 4193).
DEFAULT_MONITORING_SOURCES = {
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "::1/128",
    "fc00::/7",
}


def _patches(docs) -> dict[str, dict]:
    envoy_filter = one(docs, "EnvoyFilter", "sentiment-rate-limit")["spec"]
    return {p["applyTo"]: p for p in envoy_filter["configPatches"]}


def test_rate_limit_is_per_client_ip_in_the_filter_itself(docs):
    patches = _patches(docs)
    assert set(patches) == {"HTTP_FILTER", "NETWORK_FILTER"}
    config = patches["HTTP_FILTER"]["patch"]["value"]["typed_config"]
    (limits,) = config["rate_limits"]
    assert limits["actions"][-1] == {"remote_address": {}}
    (descriptor,) = config["descriptors"]
    assert descriptor["entries"][-1] == {"key": "remote_address"}  # no value: a bucket per IP
    assert descriptor["token_bucket"] == {
        "max_tokens": 10,
        "tokens_per_fill": 10,
        "fill_interval": "60s",
    }
    # Without a default bucket, a request with no descriptor (static asset, monitoring host)
    # is not limited, rather than sharing one bucket with every other client.
    assert "token_bucket" not in config
    assert config["max_dynamic_descriptors"] >= 10_000
    for switch in ("filter_enabled", "filter_enforced"):
        assert config[switch]["default_value"] == {"numerator": 100, "denominator": "HUNDRED"}
    assert config["enable_x_ratelimit_headers"] == "DRAFT_VERSION_03"


def test_rate_limit_patches_name_no_port_listener_or_virtual_host(docs):
    """What would let an added HTTPS server or a renamed host drop the limit."""
    for patch in _patches(docs).values():
        match = patch["match"]
        assert match["context"] == "GATEWAY"
        assert set(match) == {"context", "listener"}
        listener = match["listener"]
        assert set(listener) == {"filterChain"}  # no portNumber, no listener name
        assert set(listener["filterChain"]) == {"filter"}  # no sni, no filter chain name
        assert listener["filterChain"]["filter"]["name"] == (
            "envoy.filters.network.http_connection_manager"
        )


def test_the_gateways_429_is_our_error(docs):
    patch = _patches(docs)["NETWORK_FILTER"]
    assert patch["patch"]["operation"] == "MERGE"
    (mapper,) = patch["patch"]["value"]["typed_config"]["local_reply_config"]["mappers"]
    assert mapper["filter"]["status_code_filter"]["comparison"]["value"]["default_value"] == 429
    error = mapper["body_format_override"]["json_format"]["error"]
    assert error["code"] == "rate_limited"
    assert "%RESP(RETRY-AFTER)%" in error["message"]
    limit = _patches(docs)["HTTP_FILTER"]["patch"]["value"]["typed_config"]
    added = {h["header"]["key"]: h["header"]["value"] for h in limit["response_headers_to_add"]}
    assert int(added["retry-after"]) > 0


def test_monitoring_hosts_are_denied_outside_private_ranges(docs):
    spec = one(docs, "AuthorizationPolicy", "gateway-monitoring-access")["spec"]
    assert spec["selector"]["matchLabels"]  # the gateway's labels (one knob sets them)
    assert spec["action"] == "DENY"  # an ALLOW policy would shut the app's host out
    (rule,) = spec["rules"]
    (source,) = rule["from"]
    assert set(source["source"]) == {"notRemoteIpBlocks"}
    blocks = source["source"]["notRemoteIpBlocks"]
    assert set(blocks) == DEFAULT_MONITORING_SOURCES
    for block in blocks:
        assert ipaddress.ip_network(block).is_private or ipaddress.ip_network(block).is_loopback
    (operation,) = rule["to"]
    hosts = operation["operation"]["hosts"]
    for host in ("prometheus.sentiment.local", "grafana.sentiment.local"):
        # istiod matches hosts exactly; the gateway also routes "host:port".
        assert {host, f"{host}:*"} <= set(hosts)
    assert not [h for h in hosts if h.startswith("sentiment.local")]


def test_monitoring_policy_selects_the_gateway_the_rate_limit_selects(docs):
    """Both on the pods the Gateway selects, in the gateway's namespace."""
    policy = one(docs, "AuthorizationPolicy", "gateway-monitoring-access")
    envoy_filter = one(docs, "EnvoyFilter", "sentiment-rate-limit")
    labels = one(docs, "Gateway", "sentiment-gateway")["spec"]["selector"]
    assert policy["spec"]["selector"]["matchLabels"] == labels
    assert envoy_filter["spec"]["workloadSelector"]["labels"] == labels
    assert policy["metadata"]["namespace"] == envoy_filter["metadata"]["namespace"]
