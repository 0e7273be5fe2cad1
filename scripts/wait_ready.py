"""Wait until every URL answers 200: ``python scripts/wait_ready.py TIMEOUT_SECONDS URL...``.

Exits 0 once all have answered, 1 naming the first that did not within the time (used by
scripts/run-all.sh for its banner and by scripts/mesh.sh before it starts Envoy).
"""

import sys
import time
import urllib.request


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URLs
            return bool(response.status == 200)  # noqa: PLR2004
    except OSError:
        return False


def main(timeout: float, urls: list[str]) -> int:
    deadline = time.monotonic() + timeout
    for url in urls:
        while not answers(url):
            if time.monotonic() > deadline:
                print(f"{url} did not answer within {timeout:g} s", file=sys.stderr)
                return 1
            time.sleep(0.2)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(float(sys.argv[1]), sys.argv[2:]))
    except KeyboardInterrupt:
        sys.exit(130)
