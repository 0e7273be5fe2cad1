"""The client's address from X-Forwarded-For, counted the way the mesh gateway counts.

The mesh ingress gateway (Envoy, ``use_remote_address: true``) appends the address of its
own peer to X-Forwarded-For, and with ``numTrustedProxies: N`` (Envoy's
``xff_num_trusted_hops``) it takes the N-th entry from the right of the header it received
as the client. The app sees the header after that append, so with the same N the client
is the (N+1)-th entry from the right of what arrives here.
"""

import ipaddress


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def forwarded_client(remote_addr: str, forwarded_for: str, trusted_proxies: int | None) -> str:
    """The client address for a request from ``remote_addr`` carrying ``forwarded_for``.

    ``trusted_proxies`` is the gateway's ``numTrustedProxies``: None when no gateway is in
    front (the socket's peer is the client and the header, written by the client, is
    ignored); N >= 0 when it is, N being the L7 proxies in front of the gateway that each
    append their peer's address. Entries further left than the N+1 trusted ones are
    whatever the client sent and are never chosen. With fewer entries than N+1 the gateway
    fell back to its own peer, the last entry, and so does this.
    """
    if trusted_proxies is None:
        return remote_addr
    chain = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
    if not chain:
        return remote_addr
    # The gateway's own entry: the one address no client can choose.
    fallback = _ip(chain[-1]) or remote_addr
    if len(chain) <= trusted_proxies:
        return fallback
    return _ip(chain[-(trusted_proxies + 1)]) or fallback
