"""The model canary's routing, run in a real Envoy: the oldest and the newest supported (see
ENVOYS in conftest.py); every test runs on both.

The configuration is what deploy/local/meshgen.py makes of the rendered deploy/ (kubectl
kustomize): sentiment-model-vs and sentiment-model-destination as the outbound listener of a
caller's sidecar for the model Service, never written by hand. The upstreams are small HTTP
servers here that answer which model variant they are, for GET and POST. A second listener of
the same objects has its v2 subset at a closed port, to show that connection failures are
retried while an answered POST is not.
"""

import http.client
import json

import pytest
import requests
import yaml

from tests.deploy.conftest import running_envoy
from tests.deploy.manifests import free_port, one
from tests.support.servers import JsonServer

HEADER = "x-model-variant"
MODEL_HOST = "sentiment-model-service.sentiment.svc.cluster.local"

pytestmark = pytest.mark.slow


def answer_as(variant: str):
    """The upstream names its variant and echoes what it received."""

    def answer(request) -> dict:
        return {
            "model_variant": variant,
            "method": request.command,
            "path": request.path,
            "body": request.body.decode(),
            "header": request.headers.get(HEADER),
        }

    return answer


@pytest.fixture(scope="module")
def models():
    servers = {variant: JsonServer(answer_as(variant)) for variant in ("v1", "v2")}
    yield servers
    for server in servers.values():
        server.stop()


def _renamed(names: dict[str, str], clusters: list[dict], prefix: str):
    """The same clusters under other names, for a second listener in one Envoy."""
    renamed = {subset: f"{prefix}{name}" for subset, name in names.items()}
    for cluster in clusters:
        cluster["name"] = cluster["load_assignment"]["cluster_name"] = prefix + cluster["name"]
    return renamed, clusters


@pytest.fixture(scope="module")
def envoy_config(docs, meshgen, models, tmp_path_factory):
    ports = {name: free_port() for name in ("model", "refused", "admin")}
    addresses = {v: ("127.0.0.1", s.port) for v, s in models.items()}
    names, clusters = meshgen.model_clusters(docs, addresses)
    closed = {**addresses, "v2": ("127.0.0.1", free_port())}  # nothing listens there
    refused_names, refused_clusters = _renamed(
        *meshgen.model_clusters(docs, closed), prefix="refused|"
    )
    listeners = [
        meshgen.model_listener(docs, names, name="model", address="127.0.0.1", port=ports["model"]),
        meshgen.model_listener(
            docs, refused_names, name="refused", address="127.0.0.1", port=ports["refused"]
        ),
    ]
    path = tmp_path_factory.mktemp("envoy-model") / "envoy.yaml"
    config = meshgen.bootstrap(listeners, clusters + refused_clusters, ports["admin"])
    path.write_text(yaml.safe_dump(config))
    return path, ports, names, refused_names


@pytest.fixture(scope="module")
def envoy(envoy_binary, envoy_config):
    path, ports, _, _ = envoy_config
    with running_envoy(envoy_binary, path, ports["admin"]):
        yield ports


def call(port: int, *, method="GET", path="/version", headers=None, body=None):
    """A call as the web app makes it through its sidecar: to the model Service's name."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        sent = {"Host": f"{MODEL_HOST}:5000", **(headers or {})}
        if body is not None:
            sent["content-type"] = "application/json"
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read()
        return response.status, data
    finally:
        conn.close()


def variant(port: int, headers: dict, **kwargs) -> str:
    status, data = call(port, headers=headers, **kwargs)
    assert status == 200, data[:300]
    return json.loads(data)["model_variant"]


def test_the_listener_is_built_from_the_rendered_objects(docs, envoy_config):
    _, _, names, _ = envoy_config
    rule = one(docs, "DestinationRule", "sentiment-model-destination")["spec"]
    assert sorted(names) == sorted(s["name"] for s in rule["subsets"]) == ["v1", "v2"]
    assert all(name.endswith(f"|{rule['host']}") for name in names.values())


def test_header_v2_reaches_the_v2_model(envoy):
    assert variant(envoy["model"], {HEADER: "v2"}) == "v2"
    status, data = call(
        envoy["model"],
        method="POST",
        path="/analyze",
        headers={HEADER: "v2"},
        body=json.dumps({"review": "Lovely soup"}),
    )
    assert status == 200
    answer = json.loads(data)
    assert (answer["model_variant"], answer["method"], answer["path"]) == ("v2", "POST", "/analyze")
    assert json.loads(answer["body"]) == {"review": "Lovely soup"}
    assert answer["header"] == "v2"


@pytest.mark.parametrize(
    "headers",
    [
        {HEADER: "v1"},
        {},
        {HEADER: "V2"},
        {HEADER: "v2.0"},
        {HEADER: "v3"},
        {HEADER: "v2,v1"},
        {HEADER: "canary"},
        {HEADER: ""},
        {"x-model-variant-v2": "v2"},
    ],
    ids=["v1", "absent", "upper-case", "longer", "v3", "list", "word", "empty", "other"],
)
def test_anything_but_exactly_v2_reaches_v1(envoy, headers):
    # (Whitespace around a value is not part of it in HTTP: " v2 " is v2.)
    assert variant(envoy["model"], headers) == "v1"
    assert variant(envoy["model"], headers, method="POST", path="/analyze", body="{}") == "v1"


def test_an_answered_post_is_never_sent_twice(envoy, models):
    """A 5xx from the model may follow a prediction that ran: the mesh passes it on."""
    for server in models.values():
        server.status = 503
    try:
        for headers, server in (({}, models["v1"]), ({HEADER: "v2"}, models["v2"])):
            before = server.hits
            status, _ = call(
                envoy["model"], method="POST", path="/analyze", headers=headers, body="{}"
            )
            assert status == 503
            assert server.hits == before + 1
    finally:
        for server in models.values():
            server.status = 200


def _stat(admin_port: int, name: str) -> int:
    stats = requests.get(f"http://127.0.0.1:{admin_port}/stats", timeout=5).text
    (line,) = [line for line in stats.splitlines() if line.startswith(f"{name}: ")]
    return int(line.split(": ", 1)[1])


def test_a_refused_connection_is_retried_and_stays_on_its_subset(envoy, envoy_config, models):
    """v2's pod down: the call is retried (it never reached a model), and fails rather than
    falling back to v1, whose answer would be recorded as v2's."""
    _, _, _, refused_names = envoy_config
    v1_before = models["v1"].hits
    status, _ = call(
        envoy["refused"], method="POST", path="/analyze", headers={HEADER: "v2"}, body="{}"
    )
    assert status == 503
    assert models["v1"].hits == v1_before
    retries = _stat(envoy["admin"], f"cluster.{refused_names['v2']}.upstream_rq_retry")
    assert retries == 2
    assert variant(envoy["refused"], {}) == "v1"  # the rest of that listener still serves
