"""TRUSTED_PROXY_COUNT means the gateway's numTrustedProxies, in each topology.

X-Forwarded-For is built hop by hop as Envoy documents it (use_remote_address: true,
skip_xff_append: false): every L7 proxy appends the address of its peer, and the gateway,
with xff_num_trusted_hops N, trusts the N-th entry from the right of what it received,
falling back to its peer when there are fewer. The app must pick the same client.
"""

import pytest
from django.test import RequestFactory, override_settings

from webapp.client_address import forwarded_client
from webapp.security import client_ip

CLIENT = "198.51.100.7"
FORGED = "203.0.113.66"
SIDECAR = "127.0.0.6"  # the app's own sidecar, the socket peer of every meshed request


def append(xff: str, peer: str) -> str:
    """What an L7 proxy sends on: the header it received plus the address of its peer."""
    return f"{xff}, {peer}" if xff else peer


def envoy_trusted_client(xff: str, peer: str, num_trusted_hops: int) -> str:
    """Envoy's trusted client address for a request from ``peer`` carrying ``xff``."""
    if num_trusted_hops == 0:
        return peer
    chain = [entry.strip() for entry in xff.split(",") if entry.strip()]
    return chain[-num_trusted_hops] if len(chain) >= num_trusted_hops else peer


def through(proxies: list[str], sent_xff: str = "") -> tuple[str, str]:
    """The client sends ``sent_xff`` through L7 ``proxies`` (addresses, outermost first) and
    then the gateway. Returns (the header reaching the gateway, the one reaching the app)."""
    hops = [CLIENT, *proxies]
    xff = sent_xff
    for peer in hops[:-1]:
        xff = append(xff, peer)  # each proxy appends the address it saw
    at_gateway = xff
    return at_gateway, append(at_gateway, hops[-1])  # the gateway appends its peer


TOPOLOGIES = {
    "direct": [],
    "one L7 load balancer": ["10.0.0.10"],
    "two L7 proxies": ["192.0.2.30", "10.0.0.10"],
}


@pytest.mark.parametrize("sent", ["", FORGED, f"{FORGED}, 10.9.9.9"])
@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_the_app_picks_the_client_the_gateway_trusts(topology, sent):
    proxies = TOPOLOGIES[topology]
    count = len(proxies)  # numTrustedProxies for this topology, and TRUSTED_PROXY_COUNT
    at_gateway, at_app = through(proxies, sent)
    gateway_peer = proxies[-1] if proxies else CLIENT
    assert envoy_trusted_client(at_gateway, gateway_peer, count) == CLIENT
    assert forwarded_client(SIDECAR, at_app, count) == CLIENT


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_a_forged_header_cannot_choose_the_address(topology):
    proxies = TOPOLOGIES[topology]
    for forged in (FORGED, f"{FORGED}, {FORGED}", ", ".join([FORGED] * 5), "not-an-ip"):
        _, at_app = through(proxies, forged)
        assert forwarded_client(SIDECAR, at_app, len(proxies)) == CLIENT, forged


def test_a_count_lower_than_the_real_proxies_picks_a_proxy_never_the_forged_entry():
    _, at_app = through(TOPOLOGIES["two L7 proxies"], FORGED)
    assert forwarded_client(SIDECAR, at_app, 0) == "10.0.0.10"  # the gateway's peer
    assert forwarded_client(SIDECAR, at_app, 1) == "192.0.2.30"


def test_a_short_header_falls_back_to_the_gateways_peer_as_envoy_does():
    # Sent straight to the gateway, bypassing the load balancer it expects.
    at_gateway, at_app = through([])
    assert envoy_trusted_client(at_gateway, CLIENT, 1) == CLIENT
    assert forwarded_client(SIDECAR, at_app, 1) == CLIENT
    assert forwarded_client(SIDECAR, at_app, 2) == CLIENT


def test_without_a_gateway_the_header_is_ignored():
    assert forwarded_client("10.1.2.3", FORGED, None) == "10.1.2.3"
    assert forwarded_client("10.1.2.3", "", 0) == "10.1.2.3"


def test_junk_entries_never_become_the_address():
    assert forwarded_client(SIDECAR, f"junk, {CLIENT}", 1) == CLIENT
    assert forwarded_client(SIDECAR, "junk", 0) == SIDECAR
    assert forwarded_client(SIDECAR, "2001:db8::1", 0) == "2001:db8::1"


@pytest.mark.parametrize(("count", "expected"), [(None, SIDECAR), (0, "10.0.0.10"), (1, CLIENT)])
def test_the_setting_drives_the_axes_client_address(count, expected):
    _, at_app = through(TOPOLOGIES["one L7 load balancer"], FORGED)
    request = RequestFactory().get(
        "/admin/login/", REMOTE_ADDR=SIDECAR, HTTP_X_FORWARDED_FOR=at_app
    )
    with override_settings(TRUSTED_PROXY_COUNT=count):
        assert client_ip(request) == expected
