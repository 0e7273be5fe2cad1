"""Shared pieces of the monitoring tests: the monitoring/ files, promtool, PromQL helpers."""

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "monitoring"
DASHBOARDS = MONITORING / "dashboards"

# Values Grafana substitutes before a query reaches Prometheus, for checking the queries
# (windows wide enough to hold all of a test's traffic even on a slow machine).
GRAFANA_VARIABLES = {
    "$__rate_interval": "2m",
    "$__interval": "15s",
    "$__range": "10m",
    "$service": "sentiment-app-service|sentiment-model-service",
    "$experiment": ".*",
}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "offset", "bool", "group_left", "group_right", "inf", "nan"}


def recording_rules() -> dict[str, str]:
    """Recorded series of the PrometheusRule and the expressions that make them."""
    rules = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())["spec"]["groups"]
    return {
        rule["record"]: rule["expr"]
        for group in rules
        for rule in group["rules"]
        if "record" in rule
    }


def metric_names(expr: str) -> set[str]:
    """Names of the metrics a PromQL expression selects (not functions, labels or keywords); a
    recorded series stands for the metrics its recording rule reads."""
    recorded = recording_rules()
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _LABEL_LISTS.sub("", text)
    text = re.sub(r"\boffset\s+\w+", "", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        word = match.group(0)
        if word.lower() in _KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue
        names |= metric_names(recorded[word]) if word in recorded else {word}
    return names


def substitute(expr: str) -> str:
    for variable in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(variable, GRAFANA_VARIABLES[variable])
    return expr


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def names_in():
    """metric_names(expr): the metrics a PromQL expression reads."""
    return metric_names


@pytest.fixture(scope="session")
def render():
    """monitoring/local/render.py: rule extraction and the local Prometheus configuration."""
    return load_module("monitoring_render", MONITORING / "local" / "render.py")


@pytest.fixture(scope="session")
def generator():
    """monitoring/dashboards/generate.py."""
    return load_module("monitoring_dashboards", DASHBOARDS / "generate.py")


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: install Debian's prometheus package (make system-deps)"
    return path


@pytest.fixture(scope="session")
def run_promtool(promtool):
    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [promtool, *args], capture_output=True, text=True, timeout=60, cwd=cwd
        )

    return run


@pytest.fixture(scope="session")
def rule_object() -> dict:
    return yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())


@pytest.fixture(scope="session")
def alerts(rule_object) -> dict[str, dict]:
    return {
        rule["alert"]: rule
        for group in rule_object["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


@pytest.fixture(scope="session")
def dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


@pytest.fixture(scope="session")
def dashboard_queries(dashboards) -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL) for every query of every panel."""
    return [
        (name, panel["title"], item["expr"])
        for name, board in dashboards.items()
        for panel in board["panels"]
        for item in panel.get("targets", [])
    ]


@pytest.fixture(scope="session")
def check_expressions(run_promtool, tmp_path_factory):
    """Parse PromQL expressions with promtool, as recording rules (it has no expression
    check of its own); returns promtool's output, empty when every expression parses."""

    def check(expressions: list[str]) -> str:
        rules = [{"record": f"check:expr_{n}", "expr": e} for n, e in enumerate(expressions)]
        path = tmp_path_factory.mktemp("exprs") / "exprs.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "check", "rules": rules}]}))
        result = run_promtool("check", "rules", str(path))
        return "" if result.returncode == 0 else result.stdout + result.stderr

    return check
