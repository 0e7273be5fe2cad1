"""deploy/local/meshgen.py, the Istio -> Envoy translator: it models only what deploy/istio/
uses, and refuses the rest instead of producing a gateway that silently differs."""

import copy
import shutil

import pytest

from tests.deploy.manifests import DEPLOY, one

UPSTREAMS = {"v1": ("127.0.0.1", 15001), "v2": ("127.0.0.1", 15002)}


def _istio_docs(docs):
    return [d for d in docs if d["apiVersion"].split("/")[0].endswith("istio.io")]


def test_without_kubectl_the_istio_files_are_read_as_kustomize_renders_them(
    docs, meshgen, monkeypatch
):
    rendered = {
        (d["kind"], d["metadata"]["name"]): d
        for d in meshgen.render(DEPLOY / "istio")
        if d["kind"] in {"Gateway", "DestinationRule", "EnvoyFilter"}
        or d["metadata"]["name"] == meshgen.VIRTUAL_SERVICE
    }
    monkeypatch.setattr(shutil, "which", lambda name: None)
    read = meshgen.render(DEPLOY / "istio")
    assert not [d for d in read if d["kind"] == "MonitoringTargets"]
    for (kind, name), doc in rendered.items():
        fallback = one(read, kind, name)
        # kustomize adds nothing to these objects, so both roads give the same config
        assert fallback["spec"] == doc["spec"], (kind, name)
    assert len(rendered) == 5


def test_translation_is_complete_for_the_deployed_objects(docs, meshgen):
    config = meshgen.build(docs, port=18080, admin_port=19901, upstreams=UPSTREAMS)
    (listener,) = config["static_resources"]["listeners"]
    clusters = config["static_resources"]["clusters"]
    assert [c["name"].split("|")[2] for c in clusters] == ["v1", "v2"]
    for cluster in clusters:
        assert cluster["circuit_breakers"]["thresholds"][0]["max_pending_requests"] == 50
        assert cluster["outlier_detection"]["consecutive_5xx"] == 5
        assert cluster["connect_timeout"] == "2s"
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["use_remote_address"] is True
    (vhost,) = hcm["route_config"]["virtual_hosts"]
    assert vhost["rate_limits"] == [{"actions": [{"remote_address": {}}]}]
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
        meshgen.build(docs, port=18080, admin_port=19901, upstreams=UPSTREAMS)


def test_rate_limit_patch_applies_only_to_its_virtual_host(docs, meshgen):
    docs = copy.deepcopy(_istio_docs(docs))
    envoy_filter = one(docs, "EnvoyFilter", meshgen.RATE_LIMIT_FILTER)
    for patch in envoy_filter["spec"]["configPatches"]:
        if patch["applyTo"] == "VIRTUAL_HOST":
            patch["match"]["routeConfiguration"]["vhost"]["name"] = "elsewhere.local:80"
    config = meshgen.build(docs, port=18080, admin_port=19901, upstreams=UPSTREAMS)
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    (vhost,) = hcm["typed_config"]["route_config"]["virtual_hosts"]
    assert "rate_limits" not in vhost and "typed_per_filter_config" not in vhost


def test_filter_for_another_workload_is_refused(docs, meshgen):
    docs = copy.deepcopy(_istio_docs(docs))
    envoy_filter = one(docs, "EnvoyFilter", meshgen.RATE_LIMIT_FILTER)
    envoy_filter["spec"]["workloadSelector"]["labels"] = {"app": "sentiment-app"}
    with pytest.raises(meshgen.UnsupportedConfig, match="ingress gateway"):
        meshgen.build(docs, port=18080, admin_port=19901, upstreams=UPSTREAMS)
