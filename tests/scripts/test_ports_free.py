"""scripts/ports_free.py: a port with a server on it is busy; one left in TIME-WAIT by a
server that just stopped (as after Ctrl-C on `make run`) is free, as it is to gunicorn."""

import socket
import subprocess
import sys
from pathlib import Path

from devtools.servers import REPO

TIME_WAIT = "06"  # the state's number in /proc/net/tcp


def check(*ports: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/ports_free.py", *map(str, ports)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def states(port: int) -> set[str]:
    """TCP states of the IPv4 sockets whose local port is ``port``."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return {
        fields[3]
        for fields in (line.split() for line in lines)
        if int(fields[1].rsplit(":", 1)[1], 16) == port
    }


def left_in_time_wait() -> int:
    """A port on which a server accepted a connection and closed it first, then stopped:
    the server's side of that connection stays in TIME-WAIT for a minute."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            accepted.close()  # the server closes first, as gunicorn does after a response
            client.recv(1)  # the client sees the FIN and closes in turn
    return port


def test_a_port_in_time_wait_is_free():
    port = left_in_time_wait()
    assert states(port) == {TIME_WAIT}
    result = check(port)
    assert result.returncode == 0, result.stderr


def test_a_port_with_a_listener_is_busy_and_named():
    free = left_in_time_wait()
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        busy = server.getsockname()[1]
        result = check(free, busy)
    assert result.returncode == 1
    assert f"port {busy} is in use" in result.stderr
    assert str(free) not in result.stderr
