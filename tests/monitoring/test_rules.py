"""The alert rules: valid for promtool, unit-tested case by case, documented in the runbook."""

import re
import shutil

import pytest
import yaml
from django.urls import URLPattern, URLResolver, get_resolver

MONITORING_TESTS = "monitoring/tests/alerts.test.yml"
SEVERITIES = {"critical", "warning", "info"}


@pytest.fixture
def rules_dir(tmp_path, render):
    """The rule file promtool reads, extracted from the PrometheusRule, with the unit tests."""
    from tests.support.servers import REPO

    render.write_rules(tmp_path / "rules.yml")
    shutil.copy(REPO / MONITORING_TESTS, tmp_path / "alerts.test.yml")
    return tmp_path


@pytest.fixture(scope="module")
def unit_tests():
    from tests.support.servers import REPO

    return yaml.safe_load((REPO / MONITORING_TESTS).read_text())


def test_rules_are_valid(run_promtool, rules_dir):
    result = run_promtool("check", "rules", str(rules_dir / "rules.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_unit_tests_pass(run_promtool, rules_dir):
    result = run_promtool("test", "rules", "alerts.test.yml", cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case(alerts, unit_tests):
    cases: dict[str, list[bool]] = {name: [] for name in alerts}
    for test in unit_tests["tests"]:
        for case in test.get("alert_rule_test", []):
            assert case["alertname"] in alerts, f"unit test for unknown alert {case['alertname']}"
            cases[case["alertname"]].append(bool(case.get("exp_alerts")))
    for name, fired in cases.items():
        assert True in fired, f"{name} has no case where it fires"
        assert False in fired, f"{name} has no case where it stays quiet"


@pytest.mark.parametrize(
    ("mutation", "replacement", "firing_cases"),
    [("never fires", "vector(1) > 2", True), ("always fires", "vector(1)", False)],
)
def test_the_unit_tests_catch_a_broken_alert(
    alerts, mutation, replacement, firing_cases, run_promtool, rules_dir, render, unit_tests
):
    """Every alert replaced by one that never fires fails its firing cases; replaced by one
    that always fires, it fails its quiet cases. (All alerts at once: one promtool run.)"""
    groups = render.rule_groups()
    for group in groups["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["expr"] = replacement
    (rules_dir / "rules.yml").write_text(yaml.safe_dump(groups))
    cases = {**unit_tests, "tests": []}
    for test in unit_tests["tests"]:
        kept = [
            case
            for case in test.get("alert_rule_test", [])
            if bool(case.get("exp_alerts")) == firing_cases
        ]
        if kept:
            cases["tests"].append({**test, "alert_rule_test": kept})
    (rules_dir / "cases.test.yml").write_text(yaml.safe_dump(cases))
    result = run_promtool("test", "rules", "cases.test.yml", cwd=rules_dir)
    caught = set(re.findall(r"alertname: (\w+),", result.stdout + result.stderr))
    assert caught == set(alerts), f"unit tests still pass when these alerts {mutation}: " + str(
        set(alerts) - caught
    )


def test_alerts_carry_severity_and_explanations(alerts):
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert annotations["summary"].strip(), name
        assert len(annotations["description"]) > 40, name


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the headings of a markdown document."""
    anchors = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            text = line.lstrip("#").strip().lower()
            text = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
            anchors.add(text)
    return anchors


def test_each_alert_points_at_its_runbook_section(alerts):
    from tests.support.servers import REPO

    anchors = heading_anchors((REPO / "monitoring" / "README.md").read_text())
    for name, rule in alerts.items():
        path, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert path == "monitoring/README.md", name
        assert anchor == name.lower(), name
        assert anchor in anchors, f"monitoring/README.md has no section for {name}"


def url_names(urlconf: str) -> set[str]:
    """Every view name of a URLconf, with namespaces, as django-prometheus and our
    middleware label them."""
    names = set()

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                ns = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
                walk(pattern.url_patterns, ns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(prefix + pattern.name)

    walk(get_resolver(urlconf).url_patterns, "")
    return names


def excluded_names(expr: str) -> set[str]:
    """Literal alternatives of route!~"..." and view!~"..." matchers."""
    names = set()
    for values in re.findall(r'(?:route|view)!~"([^"]+)"', expr):
        names.update(v for v in values.split("|") if not re.search(r"[.*+?()\[\]]", v))
    return names


def test_probe_routes_left_out_of_queries_exist(alerts, dashboard_queries):
    """A renamed health or metrics URL would silently put probes back into the ratios."""
    known = url_names("webapp.urls") | url_names("modelsvc.urls")
    expressions = [rule["expr"] for rule in alerts.values()]
    expressions += [expr for _, _, expr in dashboard_queries]
    used = set().union(*(excluded_names(e) for e in expressions))
    assert {"metrics", "reviews:live", "reviews:ready", "live", "ready"} <= used
    assert used <= known, f"no such URL names: {used - known}"
