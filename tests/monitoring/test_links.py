"""monitoring/local/links.py: every query of every dashboard panel as a link to the local
Prometheus's graph page, over the dashboard's range, that decodes back to the query."""

import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.monitoring.conftest import MONITORING, REPO, load_module
from tests.support.servers import free_port, wait_for

PROMETHEUS = "http://127.0.0.1:9090"

# What Grafana itself would send for a fresh dashboard at a 5 s scrape interval.
EXPECTED = {
    "$__rate_interval": "20s",
    "$__range": "1h",
    "$service": "sentiment-app-service|sentiment-model-service",
    "$experiment": ".*",
}


@pytest.fixture(scope="module")
def links():
    return load_module("links", MONITORING / "local" / "links.py")


def expected(expr: str) -> str:
    for name in sorted(EXPECTED, key=len, reverse=True):
        expr = expr.replace(name, EXPECTED[name])
    return expr


def test_every_target_of_every_panel_gets_a_link_that_round_trips(links, dashboards):
    for name, board in dashboards.items():
        made = links.links(board, PROMETHEUS, "5s")
        targets = [
            (panel["title"], target["expr"])
            for panel in board["panels"]
            for target in panel.get("targets", [])
        ]
        assert targets, name
        assert len(made) == len(targets), name
        for (title, expr), link in zip(targets, made, strict=True):
            assert link["panel"].startswith(title)
            url = urlsplit(link["url"])
            assert f"{url.scheme}://{url.netloc}{url.path}" == f"{PROMETHEUS}/classic/graph"
            query = parse_qs(url.query, strict_parsing=True)
            assert query["g0.expr"] == [expected(expr)], (name, title)
            assert "$" not in query["g0.expr"][0]
            assert query["g0.range_input"] == ["1h"]  # the dashboards' now-1h
            assert query["g0.tab"] in (["0"], ["1"])


def test_the_linked_queries_are_valid_promql(links, dashboards, check_expressions):
    exprs = [
        link["expr"]
        for board in dashboards.values()
        for link in links.links(board, PROMETHEUS, "5s")
    ]
    assert check_expressions(exprs) == ""


def test_the_command_writes_the_links_to_a_file_and_prints_them(tmp_path, links, dashboards):
    out = tmp_path / "var" / "monitor-links.md"
    result = subprocess.run(
        [sys.executable, "monitoring/local/links.py", str(out), "--prometheus", "http://h:1/"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    text = out.read_text()
    for board in dashboards.values():
        for link in links.links(board, "http://h:1", "5s"):
            assert f"]({link['url']})" in text
            assert link["url"] in result.stdout


def test_the_local_prometheus_serves_the_linked_page(links, dashboards, tmp_path):
    """Debian's Prometheus answers the link itself (its UI then reads the g0.* options)."""
    port = free_port()
    (tmp_path / "prometheus.yml").write_text("global: {}\n")
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=error",
        ]
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/-/ready", timeout=30, proc=proc)
        link = links.links(dashboards["model.json"], base, "5s")[0]["url"]
        page = requests.get(link, timeout=10, allow_redirects=False)
        assert page.status_code == 200
        assert "graph" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
