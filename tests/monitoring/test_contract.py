"""monitoring/README.md is the metrics contract: it must match core/metrics.py exactly, and
every metric a dashboard or alert reads must be in it."""

import re

import pytest
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from core import metrics
from tests.support.servers import REPO

OWN_SECTIONS = ("### Model service", "### Web app", "### Experiments and background work")
PLATFORM_SECTION = "### From libraries and the platform"
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def table_rows(markdown: str, heading: str) -> dict[str, dict]:
    """The table rows under ``heading``: name -> {type, labels, unit, meaning}."""
    section = markdown.split(heading, 1)[1].split("\n#", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not cells[0].startswith("`"):
            continue
        name, kind, labels, unit, meaning = cells
        rows[name.strip("`")] = {
            "type": kind,
            "labels": tuple(re.findall(r"`([a-z_]+)`", labels)),
            "unit": unit,
            "meaning": meaning,
        }
    return rows


@pytest.fixture(scope="module")
def readme() -> str:
    return (REPO / "monitoring" / "README.md").read_text()


def exposed(metric: MetricWrapperBase) -> tuple[str, str]:
    if isinstance(metric, Counter):
        return f"{metric._name}_total", "counter"
    if isinstance(metric, Histogram):
        return metric._name, "histogram"
    if isinstance(metric, Gauge):
        return metric._name, "gauge"
    raise AssertionError(f"undocumented metric kind {type(metric)}")


def test_contract_lists_exactly_the_metrics_of_core_metrics(readme):
    documented = {}
    for heading in OWN_SECTIONS:
        documented.update(table_rows(readme, heading))
    defined = {}
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            name, kind = exposed(metric)
            defined[name] = (kind, tuple(metric._labelnames))
    assert set(documented) == set(defined)
    for name, (kind, labels) in defined.items():
        row = documented[name]
        assert row["type"] == kind, name
        assert row["labels"] == labels, name
        assert row["unit"] and len(row["meaning"]) > 20, name


def base_name(sample: str) -> str:
    for suffix in HISTOGRAM_SUFFIXES:
        if sample.endswith(suffix):
            return sample[: -len(suffix)]
    return sample


def test_every_metric_the_dashboards_and_alerts_read_is_in_the_contract(
    readme, alerts, dashboard_queries, names_in
):
    documented = set(table_rows(readme, PLATFORM_SECTION))
    for heading in OWN_SECTIONS:
        documented |= set(table_rows(readme, heading))
    expressions = [rule["expr"] for rule in alerts.values()]
    expressions += [expr for _, _, expr in dashboard_queries]
    used = set().union(*(names_in(e) for e in expressions))
    missing = {
        name for name in used if name not in documented and base_name(name) not in documented
    }
    assert not missing, f"used but not in monitoring/README.md: {missing}"
    unused = {
        name
        for name in table_rows(readme, PLATFORM_SECTION)
        if not any(n == name or base_name(n) == name for n in used)
    }
    assert not unused, f"listed as used by dashboards or alerts, but not used: {unused}"
