"""The metric definitions of core/metrics.py: bounded labels, names, one place of definition."""

import ast
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from core import metrics

REPO = Path(__file__).resolve().parents[2]

# Every label name a metric may carry, with the values it takes: each set is small and fixed
# by code or by configuration, never by what a client sends.
ALLOWED_LABELS = {
    "app_version": "core.version.APP_VERSION",
    "app_variant": "v1 | v2 (APP_VARIANT)",
    "variant": "A | B | none",
    "route": "URL pattern names of the web app, or 'unmatched'",
    "status_class": "1xx .. 5xx",
    "model_version": "versions of trained models",
    "model_variant": "v1 | v2 (core.model_variants.MODEL_VARIANTS)",
    "sentiment": "positive | negative",
    "endpoint": "analyze | batch",
    "reason": "a few failure causes named in code",
    "correct": "true | false",
    "experiment": "experiment slugs created by operators",
    "source": "hash | client | rollback | promote",
    "status": "batch job statuses",
    "outcome": "outcomes named in code",
    "feature": "modelsvc.drift.FEATURES",
    "bin": "bin indices of a drift feature (at most 11)",
}
# What must never be a label: each value would make a new series.
FORBIDDEN_LABELS = {"review", "text", "id", "prediction_id", "path", "url", "visitor", "user"}

DEFINED = {
    name: metric for name, metric in vars(metrics).items() if isinstance(metric, MetricWrapperBase)
}


def test_there_are_metrics_to_check():
    assert len(DEFINED) >= 15


@pytest.mark.parametrize("name", sorted(DEFINED))
def test_labels_come_from_the_bounded_allow_list(name):
    labels = set(DEFINED[name]._labelnames)
    unexpected = labels - set(ALLOWED_LABELS)
    assert not unexpected, f"{name}: labels outside the allow-list {unexpected}"
    assert not labels & FORBIDDEN_LABELS


def test_allow_list_excludes_unbounded_names():
    assert not set(ALLOWED_LABELS) & FORBIDDEN_LABELS
    assert not any(("visitor" in n or n.endswith("_id") or n == "id") for n in ALLOWED_LABELS)


@pytest.mark.parametrize("name", sorted(DEFINED))
def test_names_follow_prometheus_conventions(name):
    metric = DEFINED[name]
    assert metric._name.startswith("sentiment_"), metric._name
    assert metric._documentation.strip().endswith("."), f"{name} needs a one-sentence help text"
    if isinstance(metric, Histogram) and metric._name.endswith("_seconds"):
        assert metric._upper_bounds[:-1] == list(metrics.LATENCY_BUCKETS)
    if isinstance(metric, Counter):
        # prometheus_client appends _total on exposition; the stored name must not have it.
        assert not metric._name.endswith("_total")


@pytest.mark.parametrize("name", sorted(n for n, m in DEFINED.items() if isinstance(m, Gauge)))
def test_gauges_aggregate_across_worker_processes(name):
    # The default multiprocess mode ("all") adds a pid label: one series per worker ever.
    assert DEFINED[name]._multiprocess_mode in {"livemax", "livemin", "livesum", "max", "sum"}


def test_every_sentiment_metric_in_the_registry_is_defined_in_core_metrics():
    import django.apps

    assert django.apps.apps.ready  # every installed app (and its metrics) is imported
    ours = {m._name for m in DEFINED.values()}
    registered = {
        collector._name
        for collector in list(REGISTRY._collector_to_names)
        if isinstance(collector, MetricWrapperBase) and collector._name.startswith("sentiment_")
    }
    assert registered == ours


def _defines_metrics(tree: ast.AST) -> list[int]:
    """Line numbers where prometheus_client metric classes are imported or constructed."""
    kinds = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}
    lines = []
    for node in ast.walk(tree):
        imported = isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "prometheus_client"
        )
        if imported and any(alias.name in kinds for alias in node.names):
            lines.append(node.lineno)
        qualified = isinstance(node, ast.Attribute) and node.attr in kinds
        if qualified and isinstance(node.value, ast.Name) and node.value.id == "prometheus_client":
            lines.append(node.lineno)
    return lines


def test_no_module_outside_core_metrics_defines_a_metric():
    offenders = []
    for package in ("core", "modelsvc", "webapp"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path == REPO / "core" / "metrics.py":
                continue
            lines = _defines_metrics(ast.parse(path.read_text(), str(path)))
            offenders += [f"{path.relative_to(REPO)}:{line}" for line in lines]
    assert not offenders, f"metrics must be defined in core/metrics.py only: {offenders}"


def test_the_scanner_finds_a_definition():
    source = "from prometheus_client import Counter\nX = Counter('x', 'x.')\n"
    assert _defines_metrics(ast.parse(source)) == [1]
