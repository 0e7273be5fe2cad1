"""Every rendered object against its schema, strictly: core kinds with kubernetes-validate,
Istio and Prometheus-operator kinds with their CRDs (shared/schemas/crds)."""

import copy

import kubernetes_validate
import pytest

from tests.deploy.crd_schema import CrdValidator
from tests.deploy.manifests import SCHEMAS, is_custom_resource, one

# The oldest Kubernetes the deployment supports (deploy/README.md) and the newest schema set.
KUBERNETES_VERSIONS = ["1.29", kubernetes_validate.latest_version()]

# Custom resources that shared/schemas has no CRD for. Anything without a schema fails the test.
NO_CRD_HERE: set[tuple[str, str]] = set()


@pytest.fixture(scope="module")
def crds() -> CrdValidator:
    return CrdValidator(SCHEMAS / "crds")


def core_errors(doc: dict, version: str) -> list[str]:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        return [f"{doc['kind']}/{doc['metadata']['name']} {path}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [exc.message]
    return []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_objects_pass_kubernetes_validate_strict(docs, version):
    core = [d for d in docs if not is_custom_resource(d)]
    assert len(core) > 20
    errors = [e for doc in core for e in core_errors(doc, version)]
    assert errors == []


def test_custom_resources_pass_their_crd_schemas_strictly(docs, crds):
    custom = [d for d in docs if is_custom_resource(d)]
    checked = [d for d in custom if (d["apiVersion"], d["kind"]) not in NO_CRD_HERE]
    assert {d["kind"] for d in checked} >= {
        "Gateway",
        "VirtualService",
        "DestinationRule",
        "EnvoyFilter",
        "PeerAuthentication",
        "AuthorizationPolicy",
        "ServiceMonitor",
        "PodMonitor",
        "PrometheusRule",
    }
    errors = [f"{d['kind']}/{d['metadata']['name']} {e}" for d in checked for e in crds.errors(d)]
    assert errors == []


def test_no_custom_resource_goes_unchecked(docs, crds):
    unknown = [
        (d["apiVersion"], d["kind"]) for d in docs if is_custom_resource(d) and not crds.knows(d)
    ]
    assert set(unknown) <= NO_CRD_HERE


# --- the checks can fail -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "mutate", "expected"),
    [
        (
            "DestinationRule",
            "sentiment-app-destination",
            lambda d: d["spec"]["trafficPolicy"]["outlierDetection"].update(consecutive5xxError=5),
            "consecutive5xxError",
        ),
        (
            "VirtualService",
            "sentiment-vs",
            lambda d: d["spec"]["http"][0]["retries"].update(retryon="5xx"),
            "retryon",
        ),
        (
            "EnvoyFilter",
            "sentiment-rate-limit",
            lambda d: d["spec"].update(workloadSelecter={"labels": {"istio": "ingressgateway"}}),
            "workloadSelecter",
        ),
        (
            "VirtualService",
            "sentiment-vs",
            lambda d: d["spec"]["http"][1]["route"][0]["destination"]["port"].update(number="80"),
            "is not of type 'integer'",
        ),
        (
            "ServiceMonitor",
            "sentiment-monitor",
            lambda d: d["spec"].update(endpoint=[]),
            "endpoint",
        ),
    ],
)
def test_crd_validation_rejects_a_misspelled_or_mistyped_field(
    docs, crds, kind, name, mutate, expected
):
    doc = copy.deepcopy(one(docs, kind, name))
    assert list(crds.errors(doc)) == []
    mutate(doc)
    errors = list(crds.errors(doc))
    assert errors, f"{kind} with a bad field passed"
    assert expected in " ".join(errors)


def test_crd_validation_honours_int_or_string_and_preserved_fields(crds):
    """The Kubernetes extensions are translated, not ignored: a port given by name passes
    where the CRD says int-or-string, and the EnvoyFilter's free-form Envoy config (preserve
    unknown fields) accepts any field."""
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "x", "namespace": "sentiment"},
        "spec": {"selector": {}, "endpoints": [{"targetPort": "http"}, {"targetPort": 5000}]},
    }
    assert list(crds.errors(monitor)) == []
    monitor["spec"]["endpoints"].append({"targetPort": 1.5})
    assert list(crds.errors(monitor))
    envoy_filter = {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "EnvoyFilter",
        "metadata": {"name": "x", "namespace": "istio-system"},
        "spec": {
            "configPatches": [
                {"applyTo": "HTTP_FILTER", "patch": {"operation": "MERGE", "value": {"any": 1}}}
            ]
        },
    }
    assert list(crds.errors(envoy_filter)) == []


def test_kubernetes_validate_rejects_a_misspelled_field(docs):
    deployment = copy.deepcopy(one(docs, "Deployment", "sentiment-app-v1"))
    assert core_errors(deployment, KUBERNETES_VERSIONS[-1]) == []
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    errors = core_errors(deployment, KUBERNETES_VERSIONS[-1])
    assert errors and "imagePullPolicyy" in errors[0]
