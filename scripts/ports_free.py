"""Fail early, naming the port, when one of the given ports has a server listening on it:
``python scripts/ports_free.py PORT...`` (scripts/mesh.sh and scripts/run-all.sh).

The probe binds with SO_REUSEADDR, as gunicorn and Envoy do: a port whose only sockets are
in TIME-WAIT (for a minute after the last server on it stopped) is free to them, so it is
free here too. On Linux the bind still fails while anything listens on the port.
"""

import socket
import sys


def in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def main(argv: list[str]) -> int:
    busy = [port for port in argv if in_use(int(port))]
    if busy:
        print(
            f"port {', '.join(busy)} is in use: choose others (MESH_PORT, MESH_ADMIN_PORT, "
            "MODELSVC_PORT, WEBAPP_PORT, WEBAPP_V2_PORT)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
