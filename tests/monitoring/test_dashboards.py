"""Grafana dashboards: generated, well-formed, and every query valid PromQL."""

import pytest

from tests.monitoring.conftest import substitute

MINUS = "\u2212"  # the real minus sign, of the delta panel titles


def test_committed_json_is_what_the_generator_writes(generator):
    from tests.support.servers import REPO

    for name, builder in generator.DASHBOARDS.items():
        committed = (REPO / "monitoring" / "dashboards" / name).read_text()
        assert committed == generator.render(builder), (
            f"{name} is stale: run .venv/bin/python monitoring/dashboards/generate.py"
        )


def test_the_three_dashboards_exist(dashboards):
    assert set(dashboards) == {"service-health.json", "ab-experiment.json", "model.json"}
    uids = [board["uid"] for board in dashboards.values()]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("name", ["service-health.json", "ab-experiment.json", "model.json"])
def test_dashboard_is_well_formed(dashboards, name):
    board = dashboards[name]
    assert board["title"].startswith("Sentiment / ")
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(set(ids)) == len(ids)
    titles = [panel["title"] for panel in board["panels"]]
    assert len(set(titles)) == len(titles)
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["description"], panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["refId"] and target["expr"].strip()
            assert target["datasource"]["uid"] == "${datasource}"
            used = {word for word in target["expr"].split("$")[1:]}
            for word in used:
                assert word.startswith(("__rate_interval", "__range", "__interval")) or any(
                    word.startswith(v) for v in variables
                ), f"{panel['title']}: unknown variable ${word}"


def test_every_query_is_valid_promql(dashboard_queries, check_expressions):
    problems = check_expressions([substitute(expr) for _, _, expr in dashboard_queries])
    assert problems == ""


def test_the_expression_check_rejects_invalid_promql(check_expressions):
    assert check_expressions(["sum(rate(x[5m])"]) != ""
    assert check_expressions(["sum(rate(x[5m]))"]) == ""


def test_metric_names_are_found_in_queries(names_in):
    expr = (
        'sum by (le) (rate(a_bucket{x="b(c)", route!~"d|e"}[5m] offset 1h)) '
        "/ on (x) group_left (y) b_total > 1e3 and histogram_quantile(0.9, c) or vector(0)"
    )
    assert names_in(expr) == {"a_bucket", "b_total", "c"}


def panel(dashboards, name, title):
    return next(p for p in dashboards[name]["panels"] if p["title"] == title)


def test_ab_dashboard_leads_with_coloured_b_minus_a_deltas(dashboards):
    board = dashboards["ab-experiment.json"]
    first_row = []
    for item in board["panels"][1:]:
        if item["type"] == "row":
            break
        first_row.append(item)
    deltas = [p for p in first_row if f"B {MINUS} A" in p["title"]]
    assert {p["title"] for p in deltas} == {
        f"5xx ratio B {MINUS} A",
        f"Correct-feedback rate B {MINUS} A",
        f"p95 latency B {MINUS} A",
    }
    for item in deltas:
        assert item["type"] == "stat"
        assert item["gridPos"]["y"] <= 1  # at the top
        steps = item["fieldConfig"]["defaults"]["thresholds"]["steps"]
        colours = [step["color"] for step in steps]
        assert {"green", "yellow", "red"} <= set(colours), item["title"]
        assert item["options"]["colorMode"] == "background"
        expr = item["targets"][0]["expr"]
        assert 'variant="B"' in expr and 'variant="A"' in expr
    # Worse is red on the side where B is worse: higher errors and latency, lower feedback.
    errors = panel(dashboards, "ab-experiment.json", f"5xx ratio B {MINUS} A")
    assert errors["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["color"] == "red"
    feedback = panel(dashboards, "ab-experiment.json", f"Correct-feedback rate B {MINUS} A")
    assert feedback["fieldConfig"]["defaults"]["thresholds"]["steps"][0]["color"] == "red"


def test_positive_ratio_is_computed_from_counters(dashboards):
    ratio = panel(dashboards, "model.json", "Positive ratio")
    expr = ratio["targets"][0]["expr"]
    assert 'sentiment_model_predictions_total{sentiment="positive"}' in expr
    assert "/" in expr


def test_service_health_shows_p50_p95_p99_per_service_and_version(dashboards):
    for title in (
        "Web app latency p50 / p95 / p99 by version",
        "Model service latency p50 / p95 / p99 by version",
    ):
        exprs = [t["expr"] for t in panel(dashboards, "service-health.json", title)["targets"]]
        assert [e.split(",")[0] for e in exprs] == [
            "histogram_quantile(0.5",
            "histogram_quantile(0.95",
            "histogram_quantile(0.99",
        ]
        assert all("by (le, version)" in e for e in exprs)
