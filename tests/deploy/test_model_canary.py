"""The model canary in the rendered manifests: two model Deployments (v1 stable, v2 canary) of
one workload behind one Service, the mesh-only route that only exact x-model-variant: v2 takes
to subset v2, subsets that select exactly one Deployment each, availability objects for v1
only, and the same callers (the web app and the workers, nobody else) for both variants in the
AuthorizationPolicies and in the NetworkPolicies."""

import copy
import re

import pytest

from tests.deploy.manifests import REPO, by_kind, one, pod_templates
from tests.deploy.test_networkpolicies import flows

NS = "sentiment"
MODEL_HOST = "sentiment-model-service.sentiment.svc.cluster.local"
MODELS = {"v1": "sentiment-model", "v2": "sentiment-model-v2"}
CALLERS = {
    "cluster.local/ns/sentiment/sa/sentiment-app",
    "cluster.local/ns/sentiment/sa/sentiment-worker",
}


def _template(docs, variant: str) -> dict:
    return one(docs, "Deployment", MODELS[variant])["spec"]["template"]


def _env(container: dict) -> dict:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def _normalized(deployment: dict, variant: str) -> dict:
    """A model Deployment with what may differ between the variants taken out."""
    d = copy.deepcopy(deployment)
    d["metadata"]["name"] = "X"
    d["spec"].pop("replicas", None)
    for labels in (
        d["metadata"]["labels"],
        d["spec"]["selector"]["matchLabels"],
        d["spec"]["template"]["metadata"]["labels"],
    ):
        assert labels.pop("version") == variant
    spec = d["spec"]["template"]["spec"]
    (seed,) = [c for c in spec["initContainers"] if c["name"] == "seed-model"]
    seed["command"][2] = "X"
    (container,) = spec["containers"]
    for env in container["env"]:
        if env["name"] == "MODEL_VARIANT":
            assert env["value"] == variant
            env["value"] = "X"
    for ref in container["envFrom"]:
        if ref["configMapRef"]["name"].startswith("sentiment-model"):
            ref["configMapRef"]["name"] = "X"
    container["resources"] = "X"
    return d


def test_the_variants_differ_only_in_variant_model_and_memory(docs):
    v1, v2 = (one(docs, "Deployment", MODELS[v]) for v in ("v1", "v2"))
    assert _normalized(v1, "v1") == _normalized(v2, "v2")
    # v1 is scaled by its autoscaler, the canary is one pod.
    assert "replicas" not in v1["spec"] and v2["spec"]["replicas"] == 1
    seeds = {
        v: next(
            c for c in _template(docs, v)["spec"]["initContainers"] if c["name"] == "seed-model"
        )
        for v in MODELS
    }
    assert seeds["v1"]["command"][2] == "/app/model/."
    assert seeds["v2"]["command"][2] == "/app/model-v2/."
    memory = {
        v: _template(docs, v)["spec"]["containers"][0]["resources"]["limits"]["memory"]
        for v in MODELS
    }
    assert (memory["v1"], memory["v2"]) == ("1Gi", "2Gi")
    configs = {
        v: [
            r["configMapRef"]["name"]
            for r in _template(docs, v)["spec"]["containers"][0]["envFrom"]
            if r["configMapRef"]["name"].startswith("sentiment-model")
        ]
        for v in MODELS
    }
    assert configs == {"v1": ["sentiment-model-config"], "v2": ["sentiment-model-v2-config"]}


def test_each_variant_serves_its_own_pipeline_from_the_image(docs):
    """MODEL_VARIANT picks the pipeline (modelsvc/config.py); the seeded folder is the one the
    Dockerfile trains for that pipeline, so the canary pod downloads nothing."""
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"train_model --pipeline embed\s.*--out /opt/model-v2", dockerfile, re.S)
    assert "/opt/model-v2 /app/model-v2" in dockerfile
    for variant in MODELS:
        (container,) = _template(docs, variant)["spec"]["containers"]
        assert _env(container)["MODEL_VARIANT"] == variant
        config = one(docs, "ConfigMap", f"sentiment-model{'' if variant == 'v1' else '-v2'}-config")
        assert config["data"]["MODEL_URL"] == ""  # the bundled model, no download


def test_one_service_and_one_scrape_cover_both_variants(docs):
    service = one(docs, "Service", "sentiment-model-service")
    for variant in MODELS:
        labels = _template(docs, variant)["metadata"]["labels"]
        assert labels["app"] == "sentiment-model" and labels["version"] == variant
        assert service["spec"]["selector"].items() <= labels.items()
    monitor = one(docs, "ServiceMonitor", "sentiment-monitor")["spec"]
    (expression,) = monitor["selector"]["matchExpressions"]
    assert service["metadata"]["labels"]["app"] in expression["values"]
    assert "version" in monitor["podTargetLabels"]


def test_availability_objects_cover_v1_only(docs):
    (hpa,) = [
        h
        for h in by_kind(docs, "HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"]["name"].startswith("sentiment-model")
    ]
    assert hpa["spec"]["scaleTargetRef"]["name"] == MODELS["v1"]
    assert hpa["spec"]["minReplicas"] >= 2
    for pdb in by_kind(docs, "PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]["matchLabels"]
        # A budget on the one canary pod would block every node drain.
        assert not selector.items() <= _template(docs, "v2")["metadata"]["labels"].items()
    pdb = one(docs, "PodDisruptionBudget", "sentiment-model")["spec"]["selector"]["matchLabels"]
    assert pdb.items() <= _template(docs, "v1")["metadata"]["labels"].items()
    # Each Deployment's selector takes only its own variant's pods.
    for variant, name in MODELS.items():
        selector = one(docs, "Deployment", name)["spec"]["selector"]["matchLabels"]
        for other, template in ((v, _template(docs, v)) for v in MODELS):
            assert (selector.items() <= template["metadata"]["labels"].items()) == (
                other == variant
            )


def test_the_model_route_is_mesh_only_and_takes_only_exact_v2_to_v2(docs):
    vs = one(docs, "VirtualService", "sentiment-model-vs")
    assert vs["metadata"]["namespace"] == NS
    spec = vs["spec"]
    assert spec["hosts"] == [MODEL_HOST]
    assert spec["gateways"] == ["mesh"]
    *matched, default = spec["http"]
    routed_to = {}
    for http in spec["http"]:
        (destination,) = http["route"]
        assert set(destination) == {"destination"}  # no weights: the header alone decides
        assert destination["destination"]["host"] == MODEL_HOST
        routed_to[http["name"]] = destination["destination"]["subset"]
        # No retry after the model may have run: a POST must not predict twice.
        assert set(http["retries"]["retryOn"].split(",")) <= {"connect-failure", "refused-stream"}
        assert http["timeout"]
    (v2,) = matched
    assert v2["match"] == [{"headers": {"x-model-variant": {"exact": "v2"}}}]
    assert routed_to[v2["name"]] == "v2"
    assert "match" not in default and routed_to[default["name"]] == "v1"
    # The mesh never cuts a call shorter than the web app waits for one (BATCH_READ_TIMEOUT).
    settings = (REPO / "webapp" / "settings.py").read_text()
    batch = float(re.search(r'"BATCH_READ_TIMEOUT", ([\d.]+)\)', settings).group(1))
    for http in spec["http"]:
        assert float(http["timeout"].removesuffix("s")) >= batch
        assert "perTryTimeout" not in http["retries"]


def test_no_gateway_route_reaches_the_model(docs):
    """Only sidecars apply the model route; the ingress gateway has no way to the model."""
    for vs in by_kind(docs, "VirtualService"):
        hosts = {d["destination"]["host"] for http in vs["spec"]["http"] for d in http["route"]}
        if MODEL_HOST in hosts:
            assert vs["spec"]["gateways"] == ["mesh"], vs["metadata"]["name"]


def test_destination_subsets_select_exactly_their_deployment(docs):
    rule = one(docs, "DestinationRule", "sentiment-model-destination")["spec"]
    assert rule["host"] == MODEL_HOST
    service = one(docs, "Service", "sentiment-model-service")["spec"]["selector"]
    subsets = {s["name"]: s["labels"] for s in rule["subsets"]}
    assert sorted(subsets) == sorted(MODELS)
    for subset, labels in subsets.items():
        selected = [
            name
            for name, template in pod_templates(docs)
            if {**service, **labels}.items() <= template["metadata"]["labels"].items()
        ]
        assert selected == [MODELS[subset]], subset
    vs = one(docs, "VirtualService", "sentiment-model-vs")["spec"]
    assert {d["destination"]["subset"] for h in vs["http"] for d in h["route"]} == set(subsets)


def allowed_principals(docs, labels: dict) -> set[str] | None:
    """Who the ALLOW AuthorizationPolicies of the namespace let call pods with these labels
    (None: no ALLOW policy selects them, so any caller may)."""
    selecting = [
        p
        for p in by_kind(docs, "AuthorizationPolicy")
        if p["metadata"]["namespace"] == NS
        and p["spec"].get("action", "ALLOW") == "ALLOW"
        and (p["spec"].get("selector") or {}).get("matchLabels", {}).items() <= labels.items()
    ]
    if not selecting:
        return None
    principals = set()
    for policy in selecting:
        for rule in policy["spec"]["rules"]:
            assert set(rule) == {"from"}, "a rule with conditions beyond the caller"
            for source in rule["from"]:
                assert set(source["source"]) == {"principals"}
                principals |= set(source["source"]["principals"])
    return principals


def model_callers(docs) -> dict[str, set]:
    """Per model Deployment: the pods the NetworkPolicies let reach its port 5000."""
    open_flows = flows(docs)
    return {
        name: {src for src, dst, _, port in open_flows if dst == name and port == 5000}
        for name in MODELS.values()
    }


def test_only_the_web_app_and_the_workers_may_call_either_model(docs):
    for variant in MODELS:
        assert allowed_principals(docs, _template(docs, variant)["metadata"]["labels"]) == CALLERS
    expected = {"sentiment-app-v1", "sentiment-app-v2", "sentiment-worker"}
    assert model_callers(docs) == {name: expected for name in MODELS.values()}


@pytest.mark.parametrize("kind", ["AuthorizationPolicy", "NetworkPolicy"])
def test_a_policy_narrowed_to_v1_leaves_v2_open_and_is_noticed(docs, kind):
    """The checks above fail when a policy stops covering the canary."""
    docs = copy.deepcopy(docs)
    if kind == "AuthorizationPolicy":
        policy = one(docs, kind, "sentiment-model-callers")
        policy["spec"]["selector"]["matchLabels"]["version"] = "v1"
        assert allowed_principals(docs, _template(docs, "v2")["metadata"]["labels"]) is None
    else:
        policy = one(docs, kind, "sentiment-model")
        policy["spec"]["podSelector"]["matchLabels"]["version"] = "v1"
        # Only the default deny guards v2 now: its callers are refused, the model unreachable.
        assert model_callers(docs)["sentiment-model-v2"] == set()
