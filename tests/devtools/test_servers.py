"""devtools serves tests and benchmarks only: the product never imports it, and its helpers
start, report and stop a real server."""

import ast
import socket
from pathlib import Path

import pytest

from devtools.servers import REPO, free_port, start_server

PRODUCT = ("core", "modelsvc", "webapp")
DEV_ONLY = {"devtools", "tests", "bench"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_product_never_imports_development_tools():
    sources = [path for package in PRODUCT for path in (REPO / package).rglob("*.py")]
    assert len(sources) > 50  # the walk found the code, not an empty folder
    offenders = {
        str(path.relative_to(REPO)): sorted(imported_roots(path) & DEV_ONLY)
        for path in sources
        if imported_roots(path) & DEV_ONLY
    }
    assert offenders == {}


def test_free_port_can_be_bound():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


@pytest.mark.slow
def test_a_server_that_cannot_start_is_reported_with_its_log(tmp_path):
    # No such WSGI module: gunicorn exits at once, and its log says why.
    with pytest.raises(RuntimeError, match="nosuchservice did not become ready") as failure:
        start_server("nosuchservice", tmp_path, timeout=30)
    assert "No module named 'nosuchservice'" in str(failure.value)
