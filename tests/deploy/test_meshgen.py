"""deploy/local/meshgen.py, the Istio -> Envoy translator: it models only what deploy/istio/
uses, and refuses the rest instead of producing a gateway that silently differs."""

import copy
import shutil

import pytest

from tests.deploy.manifests import DEPLOY, one

UPSTREAMS = {"v1": ("127.0.0.1", 15001), "v2": ("127.0.0.1", 15002)}


def _build(meshgen, docs, **options):
    """meshgen.build with the ports and upstreams of every test here."""
    return meshgen.build(docs, port=18080, admin_port=19901, upstreams=UPSTREAMS, **options)


def _istio_docs(docs):
    return [d for d in docs if d["apiVersion"].split("/")[0].endswith("istio.io")]


def test_without_kubectl_the_istio_files_are_read_as_kustomize_renders_them(
    docs, meshgen, monkeypatch
):
    rendered = {
        (d["kind"], d["metadata"]["name"]): d
        for d in meshgen.render(DEPLOY / "istio")
        if d["kind"] in {"Gateway", "DestinationRule", "EnvoyFilter"}
        or d["metadata"]["name"] in {meshgen.VIRTUAL_SERVICE, "gateway-monitoring-access"}
    }
    monkeypatch.setattr(shutil, "which", lambda name: None)
    read = meshgen.render(DEPLOY / "istio")
    assert not [d for d in read if d["kind"] == "MonitoringTargets"]
    for (kind, name), doc in rendered.items():
        fallback = one(read, kind, name)
        # kustomize adds nothing to these objects, so both roads give the same config
        assert fallback["spec"] == doc["spec"], (kind, name)
    assert len(rendered) == 6


def test_translation_is_complete_for_the_deployed_objects(docs, meshgen):
    config = _build(meshgen, docs)
    (listener,) = config["static_resources"]["listeners"]
    clusters = config["static_resources"]["clusters"]
    assert [c["name"].split("|")[2] for c in clusters] == ["v1", "v2"]
    for cluster in clusters:
        assert cluster["circuit_breakers"]["thresholds"][0]["max_pending_requests"] == 50
        assert cluster["outlier_detection"]["consecutive_5xx"] == 5
        assert cluster["connect_timeout"] == "2s"
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["use_remote_address"] is True
    (vhost,) = hcm["route_config"]["virtual_hosts"]  # no address given for the monitoring UIs
    assert vhost["name"] == "sentiment.local:80"
    assert "rate_limits" not in vhost and "typed_per_filter_config" not in vhost
    route = vhost["routes"][0]["route"]
    assert route["timeout"] == "30s"
    assert route["retry_policy"] == {
        "num_retries": 2,
        "retry_on": "connect-failure,refused-stream",
        "per_try_timeout": "15s",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [("60s", "60s"), ("1m30s", "90s"), ("500ms", "0.5s"), ("2h", "7200s")],
)
def test_durations(meshgen, value, expected):
    assert meshgen.duration(value) == expected


@pytest.mark.parametrize("value", ["", "60", "1d", "5s extra"])
def test_bad_durations_are_refused(meshgen, value):
    with pytest.raises(meshgen.UnsupportedConfig):
        meshgen.duration(value)


def test_merge_follows_protobuf_semantics(meshgen):
    target = {"name": "a", "routes": [1], "nested": {"x": 1, "y": 2}}
    meshgen.proto_merge(target, {"routes": [2], "nested": {"y": 3}, "new": {"z": 1}})
    assert target == {"name": "a", "routes": [1, 2], "nested": {"x": 1, "y": 3}, "new": {"z": 1}}


def test_weighted_destinations_become_weighted_clusters(docs, meshgen):
    names, _ = meshgen.subset_clusters(docs, UPSTREAMS)
    http = {
        "route": [
            {"destination": {"host": "h", "subset": "v1"}, "weight": 90},
            {"destination": {"host": "h", "subset": "v2"}, "weight": 10},
        ]
    }
    action = meshgen.route_action(http, names)
    assert action["weighted_clusters"]["clusters"] == [
        {"name": names["v1"], "weight": 90},
        {"name": names["v2"], "weight": 10},
    ]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda vs: vs["spec"]["http"][0]["route"][0]["destination"].update(subset="v3"), "v3"),
        (lambda vs: vs["spec"]["http"][0]["match"][0].update(queryParams={}), "queryParams"),
        (lambda vs: vs["spec"]["http"][0].update(mirror={"host": "x"}), "mirror"),
        (
            lambda vs: vs["spec"]["http"][0]["match"][0]["headers"]["x-user-experiment"].update(
                prefix="B"
            ),
            "exactly one",
        ),
        (lambda vs: vs["spec"].update(gateways=["other"]), "not bound"),
    ],
)
def test_what_is_not_modelled_is_refused(docs, meshgen, mutate, message):
    docs = copy.deepcopy(_istio_docs(docs))
    mutate(one(docs, "VirtualService", meshgen.VIRTUAL_SERVICE))
    with pytest.raises(meshgen.UnsupportedConfig, match=message):
        _build(meshgen, docs)


def _hcm(listener: dict) -> dict:
    return listener["filter_chains"][0]["filters"][0]["typed_config"]


def _with_https_server(docs):
    docs = copy.deepcopy(_istio_docs(docs))
    gateway = one(docs, "Gateway", "sentiment-gateway")
    if not [s for s in gateway["spec"]["servers"] if s["port"]["protocol"] == "HTTPS"]:
        gateway["spec"]["servers"][0]["tls"] = {"httpsRedirect": True}
        gateway["spec"]["servers"].append(
            {
                "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                "hosts": list(gateway["spec"]["servers"][0]["hosts"]),
                "tls": {
                    "mode": "SIMPLE",
                    "credentialName": "sentiment-tls",
                    "minProtocolVersion": "TLSV1_2",
                },
            }
        )
    return docs


def test_https_redirect_and_tls_version_follow_the_gateway(docs, meshgen, tmp_path):
    docs = _with_https_server(docs)
    names, _ = meshgen.subset_clusters(docs, UPSTREAMS)
    plain = meshgen.gateway_listener(docs, names, name="p", address="127.0.0.1", port=1)
    for vhost in _hcm(plain)["route_config"]["virtual_hosts"]:
        assert vhost["require_tls"] == "ALL"
    tls = meshgen.Tls(tmp_path / "cert.pem", tmp_path / "key.pem")
    config = _build(meshgen, docs, tls=tls)
    local_http, local_https = config["static_resources"]["listeners"]
    # Locally the HTTP port serves the app: the HTTPS port is not 443, a redirect would miss it.
    assert "require_tls" not in _hcm(local_http)["route_config"]["virtual_hosts"][0]
    socket = local_https["filter_chains"][0]["transport_socket"]["typed_config"]
    assert socket["common_tls_context"]["tls_params"] == {"tls_minimum_protocol_version": "TLSv1_2"}
    assert socket["common_tls_context"]["tls_certificates"] == [
        {
            "certificate_chain": {"filename": str(tmp_path / "cert.pem")},
            "private_key": {"filename": str(tmp_path / "key.pem")},
        }
    ]


def test_rate_limit_and_its_429_reach_every_listener(docs, meshgen, tmp_path):
    """No port, listener or virtual host name in the patches: the HTTPS listener, and a host
    renamed in both the Gateway and the VirtualService, keep the limit and the error body."""
    docs = _with_https_server(docs)
    for server in one(docs, "Gateway", "sentiment-gateway")["spec"]["servers"]:
        server["hosts"] = ["shop.example", *server["hosts"][1:]]
    one(docs, "VirtualService", meshgen.VIRTUAL_SERVICE)["spec"]["hosts"] = ["shop.example"]
    tls = meshgen.Tls(tmp_path / "cert.pem", tmp_path / "key.pem")
    config = _build(meshgen, docs, tls=tls)
    listeners = config["static_resources"]["listeners"]
    assert [listener["name"] for listener in listeners] == ["gateway", "gateway_https"]
    for listener in listeners:
        hcm = _hcm(listener)
        (limit,) = [f for f in hcm["http_filters"] if f["name"] == meshgen.LOCAL_RATELIMIT]
        assert limit["typed_config"]["filter_enforced"]["default_value"]["numerator"] == 100
        (mapper,) = hcm["local_reply_config"]["mappers"]
        assert mapper["body_format_override"]["json_format"]["error"]["code"] == "rate_limited"
        (vhost,) = hcm["route_config"]["virtual_hosts"]
        assert vhost["name"].startswith("shop.example:")
    assert "transport_socket" in listeners[1]["filter_chains"][0]
    assert _hcm(listeners[1])["route_config"]["name"] == "https.443.https.sentiment-gateway"


def test_a_patch_for_another_port_does_not_apply(docs, meshgen):
    docs = copy.deepcopy(_istio_docs(docs))
    envoy_filter = one(docs, "EnvoyFilter", meshgen.RATE_LIMIT_FILTER)
    for patch in envoy_filter["spec"]["configPatches"]:
        patch["match"]["listener"]["portNumber"] = 8443
    config = _build(meshgen, docs)
    hcm = _hcm(config["static_resources"]["listeners"][0])
    assert meshgen.LOCAL_RATELIMIT not in [f["name"] for f in hcm["http_filters"]]
    assert "local_reply_config" not in hcm


def test_a_certificate_needs_an_https_server(docs, meshgen, tmp_path):
    docs = copy.deepcopy(_istio_docs(docs))
    gateway = one(docs, "Gateway", "sentiment-gateway")
    gateway["spec"]["servers"] = [
        s for s in gateway["spec"]["servers"] if s["port"]["protocol"] == "HTTP"
    ]
    tls = meshgen.Tls(tmp_path / "cert.pem", tmp_path / "key.pem")
    with pytest.raises(meshgen.UnsupportedConfig, match="no HTTPS server"):
        _build(meshgen, docs, tls=tls)


def test_extra_domains_leave_the_listener_name_alone(docs, meshgen):
    """--domain used to rename the listener after the last domain (a reused loop variable)."""
    config = _build(
        meshgen,
        _istio_docs(docs),
        extra_domains=["localhost", "127.0.0.1"],
    )
    (listener,) = config["static_resources"]["listeners"]
    assert listener["name"] == "gateway"
    assert _hcm(listener)["stat_prefix"] == "gateway"
    (vhost,) = _hcm(listener)["route_config"]["virtual_hosts"]
    assert vhost["domains"] == [
        "sentiment.local",
        "sentiment.local:*",
        "localhost",
        "localhost:*",
        "127.0.0.1",
        "127.0.0.1:*",
    ]


def test_monitoring_access_policy_becomes_a_deny_rbac_filter(docs, meshgen):
    """As istiod translates it: DENY, the hosts as case-insensitive :authority matchers, the
    source ranges as a negated remote_ip set."""
    docs = _istio_docs(docs)
    (rbac,) = meshgen.rbac_filters(docs, meshgen.gateway_selector(docs))
    rules = rbac["typed_config"]["rules"]
    assert rules["action"] == "DENY"
    (name,) = rules["policies"]
    namespace = one(docs, "AuthorizationPolicy", "gateway-monitoring-access")["metadata"][
        "namespace"
    ]
    assert name == f"ns[{namespace}]-policy[gateway-monitoring-access]-rule[0]"
    policy = rules["policies"][name]
    (permission,) = policy["permissions"]
    (hosts,) = permission["and_rules"]["rules"]
    matchers = [rule["header"]["string_match"] for rule in hosts["or_rules"]["rules"]]
    assert {"prefix": "grafana.sentiment.local:", "ignore_case": True} in matchers
    assert {"exact": "prometheus.sentiment.local", "ignore_case": True} in matchers
    (principal,) = policy["principals"]
    (negated,) = principal["and_ids"]["ids"]
    ranges = [i["remote_ip"] for i in negated["not_id"]["or_ids"]["ids"]]
    assert {(r["address_prefix"], r["prefix_len"]) for r in ranges} == {
        ("127.0.0.0", 8),
        ("10.0.0.0", 8),
        ("172.16.0.0", 12),
        ("192.168.0.0", 16),
        ("::1", 128),
        ("fc00::", 7),
    }


def test_one_gateway_selector_for_filter_and_policy(docs, meshgen):
    """The Gateway's selector is the one truth: a filter and a policy that select the same
    (renamed) labels apply; the app's own policies are not the gateway's."""
    docs = copy.deepcopy(_istio_docs(docs))
    labels = {"istio": "ingress"}
    one(docs, "Gateway", "sentiment-gateway")["spec"]["selector"] = labels
    one(docs, "EnvoyFilter", meshgen.RATE_LIMIT_FILTER)["spec"]["workloadSelector"]["labels"] = (
        labels
    )
    policy = one(docs, "AuthorizationPolicy", "gateway-monitoring-access")
    policy["spec"]["selector"]["matchLabels"] = labels
    config = _build(meshgen, docs)
    names = [f["name"] for f in _hcm(config["static_resources"]["listeners"][0])["http_filters"]]
    assert names == [meshgen.RBAC, meshgen.LOCAL_RATELIMIT, meshgen.ROUTER]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda ef: ef["spec"]["configPatches"][0].update(applyTo="VIRTUAL_HOST"), "VIRTUAL_HOST"),
        (
            lambda ef: ef["spec"]["configPatches"][0]["match"].update(context="SIDECAR_INBOUND"),
            "GATEWAY",
        ),
        (lambda ef: ef["spec"]["configPatches"][1]["patch"].update(operation="REPLACE"), "MERGE"),
    ],
)
def test_unmodelled_patches_are_refused(docs, meshgen, mutate, message):
    docs = copy.deepcopy(_istio_docs(docs))
    mutate(one(docs, "EnvoyFilter", meshgen.RATE_LIMIT_FILTER))
    with pytest.raises(meshgen.UnsupportedConfig, match=message):
        _build(meshgen, docs)


def test_filter_for_another_workload_is_refused(docs, meshgen):
    docs = copy.deepcopy(_istio_docs(docs))
    envoy_filter = one(docs, "EnvoyFilter", meshgen.RATE_LIMIT_FILTER)
    envoy_filter["spec"]["workloadSelector"]["labels"] = {"app": "sentiment-app"}
    with pytest.raises(meshgen.UnsupportedConfig, match="ingress gateway"):
        _build(meshgen, docs)


# --- the model Service's route (the web app's sidecar) -----------------------------------------

MODEL_UPSTREAMS = {"v1": ("127.0.0.1", 15000), "v2": ("127.0.0.1", 15004)}


def test_the_model_route_becomes_a_second_listener(docs, meshgen):
    config = _build(
        meshgen,
        _istio_docs(docs),
        model_port=18081,
        model_upstreams=MODEL_UPSTREAMS,
        extra_domains=["127.0.0.1"],
    )
    gateway, model = config["static_resources"]["listeners"]
    assert (gateway["name"], model["name"]) == ("gateway", "model")
    assert model["address"]["socket_address"]["port_value"] == 18081
    host = "sentiment-model-service.sentiment.svc.cluster.local"
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    for subset, (_, port) in MODEL_UPSTREAMS.items():
        cluster = clusters[f"outbound|5000|{subset}|{host}"]
        endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        assert endpoint["address"]["socket_address"]["port_value"] == port
        assert cluster["circuit_breakers"]["thresholds"][0]["max_pending_requests"] == 100
        assert cluster["outlier_detection"]["consecutive_5xx"] == 5
    hcm = _hcm(model)
    # A sidecar, not the gateway: no client-address handling, no RBAC, no rate limit.
    assert "use_remote_address" not in hcm and "local_reply_config" not in hcm
    assert [f["name"] for f in hcm["http_filters"]] == [meshgen.ROUTER]
    (vhost,) = hcm["route_config"]["virtual_hosts"]
    assert vhost["name"] == f"{host}:5000"
    assert vhost["domains"] == [host, f"{host}:*", "127.0.0.1", "127.0.0.1:*"]
    v2, default = vhost["routes"]
    assert v2["match"] == {
        "prefix": "/",
        "headers": [{"name": "x-model-variant", "string_match": {"exact": "v2"}}],
    }
    assert v2["route"]["cluster"] == f"outbound|5000|v2|{host}"
    assert default["match"] == {"prefix": "/"}
    assert default["route"]["cluster"] == f"outbound|5000|v1|{host}"
    for route in (v2, default):
        assert route["route"]["retry_policy"]["retry_on"] == "connect-failure,refused-stream"


def test_without_model_upstreams_there_is_no_model_listener(docs, meshgen):
    config = _build(meshgen, _istio_docs(docs))
    assert [listener["name"] for listener in config["static_resources"]["listeners"]] == ["gateway"]
    with pytest.raises(ValueError, match="together"):
        _build(meshgen, _istio_docs(docs), model_port=1)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda vs: vs["spec"].update(gateways=["mesh", "sentiment-gateway"]), "mesh only"),
        (lambda vs: vs["spec"].pop("gateways"), "mesh only"),
        (lambda vs: vs["spec"].update(hosts=["sentiment-model-service"]), "hosts"),
        (lambda vs: vs["spec"].update(tcp=[]), "tcp"),
        (lambda vs: vs["spec"]["http"][0]["route"][0]["destination"].pop("subset"), "subsets"),
        (
            lambda vs: vs["spec"]["http"][0]["route"][0]["destination"].update(host="other"),
            "subsets",
        ),
        (
            lambda vs: vs["spec"]["http"][0]["route"][0]["destination"]["port"].update(number=80),
            "one destination port",
        ),
        (lambda vs: vs["spec"]["http"][0]["route"][0]["destination"].update(subset="v3"), "v3"),
        (lambda vs: vs["spec"]["http"][0].update(mirror={"host": "x"}), "mirror"),
        (lambda vs: vs["spec"]["http"][0]["match"][0].update(queryParams={}), "queryParams"),
        (lambda vs: vs["spec"]["http"][1].update(fault={}), "fault"),
    ],
)
def test_what_the_model_route_does_not_model_is_refused(docs, meshgen, mutate, message):
    docs = copy.deepcopy(_istio_docs(docs))
    mutate(one(docs, "VirtualService", meshgen.MODEL_VIRTUAL_SERVICE))
    with pytest.raises(meshgen.UnsupportedConfig, match=message):
        _build(
            meshgen,
            docs,
            model_port=18081,
            model_upstreams=MODEL_UPSTREAMS,
        )


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (
            lambda dr: dr["spec"]["trafficPolicy"].update(loadBalancer={"simple": "RANDOM"}),
            "UnsupportedConfig",
            "loadBalancer",
        ),
        (lambda dr: dr["spec"].update(exportTo=["."]), "UnsupportedConfig", "exportTo"),
        (
            lambda dr: dr["spec"]["subsets"][1].update(trafficPolicy={}),
            "UnsupportedConfig",
            "trafficPolicy",
        ),
        (
            lambda dr: dr["spec"]["subsets"].append({"name": "v3", "labels": {"version": "v3"}}),
            "LookupError",
            "v3",
        ),
    ],
)
def test_what_the_model_destination_rule_does_not_model_is_refused(
    docs, meshgen, mutate, error, message
):
    docs = copy.deepcopy(_istio_docs(docs))
    mutate(one(docs, "DestinationRule", meshgen.MODEL_DESTINATION_RULE))
    exception = meshgen.UnsupportedConfig if error == "UnsupportedConfig" else LookupError
    with pytest.raises(exception, match=message):
        _build(
            meshgen,
            docs,
            model_port=18081,
            model_upstreams=MODEL_UPSTREAMS,
        )
