# PromQL reads best one query per line; panel titles use the real minus sign for B minus A.
# ruff: noqa: E501, RUF001
"""Writes the Grafana dashboards of monitoring/dashboards/*.json from the panels below.

Run ``.venv/bin/python monitoring/dashboards/generate.py`` after changing a panel; the test
suite fails while a JSON file differs from what this prints. Queries use only the metrics in
the contract (monitoring/README.md); label conventions:

- ``service``: the Kubernetes Service (sentiment-app-service, sentiment-model-service), set
  by the ServiceMonitor in the cluster and by the static scrape config locally;
- ``version``: the pod's version label (v1, v2) via podTargetLabels;
- ``variant``: the experiment variant of the web app's own metrics (A, B, none).
"""

import json
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Scrapes and probes are frequent, fast and always 200: leave them out of traffic, ratios
# and latencies so they don't hide what users see.
PROBE_ROUTES = "metrics|reviews:live|reviews:ready"
PROBE_VIEWS = "metrics|live|ready|reviews:live|reviews:ready"
APP = f'route!~"{PROBE_ROUTES}"'
VIEWS = f'service=~"$service", view!~"{PROBE_VIEWS}"'
MODEL_VIEWS = f'service="sentiment-model-service", view!~"{PROBE_VIEWS}"'
RESPONSES = "django_http_responses_total_by_status_view_method_total"
LATENCY = "django_http_requests_latency_seconds_by_view_method_bucket"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID_COLUMNS = 24  # Grafana lays panels out on a grid 24 columns wide

GREEN, YELLOW, RED, BLUE = "green", "yellow", "red", "blue"


# --- panel builders -------------------------------------------------------------------------


def target(expr: str, legend: str = "", **extra) -> dict:
    return {"expr": expr, "legendFormat": legend or "__auto", "range": True, **extra}


def steps(*pairs) -> dict:
    """Threshold steps: (colour, from-value) pairs, the first from -infinity."""
    result = [{"color": pairs[0], "value": None}]
    it = iter(pairs[1:])
    for value, color in zip(it, it, strict=True):
        result.append({"color": color, "value": value})
    return {"mode": "absolute", "steps": result}


def stat(
    title: str,
    description: str,
    targets: list[dict],
    *,
    unit: str = "none",
    thresholds: dict | None = None,
    decimals: int | None = None,
    text_mode: str = "value_and_name",
    mappings: list | None = None,
    w: int = 6,
    h: int = 5,
) -> dict:
    defaults: dict = {
        "unit": unit,
        "color": {"mode": "thresholds" if thresholds else "fixed", "fixedColor": BLUE},
        "thresholds": thresholds or steps(BLUE),
        "mappings": mappings or [],
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background" if thresholds else "value",
            "graphMode": "none",
            "textMode": text_mode,
            "justifyMode": "auto",
            "orientation": "auto",
        },
        "_size": (w, h),
    }


def timeseries(
    title: str,
    description: str,
    targets: list[dict],
    *,
    unit: str = "none",
    stack: bool = False,
    w: int = 12,
    h: int = 8,
    min_zero: bool = True,
) -> dict:
    custom = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 20 if stack else 0,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
    }
    defaults = {"unit": unit, "custom": custom, "color": {"mode": "palette-classic"}}
    if min_zero:
        defaults["min"] = 0
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "_size": (w, h),
    }


def heatmap(title: str, description: str, expr: str, *, unit: str, w: int = 12, h: int = 8):
    return {
        "type": "heatmap",
        "title": title,
        "description": description,
        "targets": [target(expr, "{{le}}", format="heatmap", interval="")],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {
            "calculate": False,
            "cellGap": 1,
            "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
            "yAxis": {"unit": unit},
            "rowsFrame": {"layout": "le"},
            "tooltip": {"show": True, "yHistogram": True},
        },
        "_size": (w, h),
    }


def bargauge(title: str, description: str, expr: str, *, unit: str, w: int = 12, h: int = 8):
    return {
        "type": "bargauge",
        "title": title,
        "description": description,
        "targets": [target(expr, "≤ {{le}}", format="heatmap", instant=True, range=False)],
        "fieldConfig": {"defaults": {"unit": unit, "min": 0}, "overrides": []},
        "options": {
            "displayMode": "gradient",
            "orientation": "vertical",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showUnfilled": True,
        },
        "_size": (w, h),
    }


def row(title: str) -> dict:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "_size": (GRID_COLUMNS, 1),
    }


def layout(panels: list[dict]) -> list[dict]:
    """Ids, data sources and grid positions, left to right, wrapping at the grid's width."""
    x = y = line_height = 0
    result = []
    for number, panel in enumerate(panels, start=1):
        w, h = panel.pop("_size")
        if x + w > GRID_COLUMNS or panel["type"] == "row":
            x, y, line_height = 0, y + line_height, 0
        panel["id"] = number
        panel["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        if panel["type"] != "row":
            panel["datasource"] = DATASOURCE
            for ref, item in zip("ABCDEFGHIJ", panel["targets"], strict=False):
                item["refId"] = ref
                item["datasource"] = DATASOURCE
        x += w
        line_height = max(line_height, h)
        result.append(panel)
    return result


DATASOURCE_VARIABLE = {
    "name": "datasource",
    "label": "Data source",
    "type": "datasource",
    "query": "prometheus",
    "current": {},
    "hide": 0,
    "refresh": 1,
    "includeAll": False,
    "multi": False,
    "options": [],
    "regex": "",
}

SERVICE_VARIABLE = {
    "name": "service",
    "label": "Service",
    "type": "custom",
    "query": "sentiment-app-service,sentiment-model-service",
    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    "includeAll": True,
    "allValue": "sentiment-app-service|sentiment-model-service",
    "multi": True,
    "hide": 0,
    "options": [],
}

EXPERIMENT_VARIABLE = {
    "name": "experiment",
    "label": "Experiment",
    "type": "query",
    "datasource": DATASOURCE,
    "definition": "label_values(sentiment_experiment_assignments_total, experiment)",
    "query": {
        "query": "label_values(sentiment_experiment_assignments_total, experiment)",
        "refId": "PrometheusVariableQueryEditor-VariableQuery",
    },
    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    "includeAll": True,
    "allValue": ".*",
    "multi": True,
    "refresh": 2,
    "sort": 1,
    "hide": 0,
    "options": [],
    "regex": "",
}


def dashboard(
    uid: str, title: str, description: str, *, panels: list, variables: list, tags: list
) -> dict:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["sentiment", *tags],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "10s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["sentiment"],
                "title": "Sentiment dashboards",
                "asDropdown": True,
                "includeVars": False,
                "keepTime": True,
            }
        ],
        "templating": {"list": [DATASOURCE_VARIABLE, *variables]},
        "panels": layout(panels),
    }


# --- query helpers ----------------------------------------------------------------------------


def ratio_or_zero(part: str, whole: str, by: str = "") -> str:
    """part/whole that reads 0 (not "no data") when nothing matched ``part``."""
    group = f" by ({by})" if by else ""
    return f"(sum{group} ({part}) or sum{group} ({whole}) * 0) / sum{group} ({whole})"


def quantile(q: float, bucket_selector: str, by: str, window: str = "$__rate_interval") -> str:
    return f"histogram_quantile({q}, sum by (le{', ' + by if by else ''}) (rate({bucket_selector}[{window}])))"


def quantile_targets(
    bucket_selector: str, by: str, legend: str, quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)
) -> list[dict]:
    """One target per quantile, each legend "p<q> " + ``legend``."""
    return [
        target(quantile(q, bucket_selector, by), f"p{round(q * 100)} {legend}") for q in quantiles
    ]


def app_requests(extra: str, window: str) -> str:
    return (
        f"increase(sentiment_app_requests_total{{{APP}{', ' + extra if extra else ''}}}[{window}])"
    )


def variant_error_ratio(variant: str, window: str = "$__range") -> str:
    return ratio_or_zero(
        app_requests(f'variant="{variant}", status_class="5xx"', window),
        app_requests(f'variant="{variant}"', window),
    )


def variant_correct_ratio(variant: str, window: str = "$__range") -> str:
    feedback = f'sentiment_app_feedback_total{{variant="{variant}"'
    return ratio_or_zero(
        f'increase({feedback}, correct="true"}}[{window}])',
        f"increase({feedback}}}[{window}])",
    )


def variant_p95(variant: str, window: str = "$__range") -> str:
    return quantile(
        0.95, f'sentiment_app_request_seconds_bucket{{{APP}, variant="{variant}"}}', "", window
    )


# --- service health -------------------------------------------------------------------------


def service_health() -> dict:
    all_responses = f"rate({RESPONSES}{{{VIEWS}}}[$__rate_interval])"
    errors = f'rate({RESPONSES}{{{VIEWS}, status=~"5.."}}[$__rate_interval])'
    latency = f"{LATENCY}{{{VIEWS}}}"
    panels = [
        row("Overview"),
        stat(
            "Targets up",
            "Scraped instances per service that answered the last scrape.",
            [target('sum by (service) (up{service=~"$service"})', "{{service}}")],
            thresholds=steps(RED, 1, GREEN),
            w=6,
        ),
        stat(
            "Requests per second",
            "Requests per service, without probes and scrapes.",
            [target(f"sum by (service) ({all_responses})", "{{service}}")],
            unit="reqps",
            w=6,
        ),
        stat(
            "5xx ratio",
            "Share of requests answered with a server error.",
            [target(ratio_or_zero(errors, all_responses, "service"), "{{service}}")],
            unit="percentunit",
            decimals=2,
            thresholds=steps(GREEN, 0.01, YELLOW, 0.05, RED),
            w=6,
        ),
        stat(
            "Model ready",
            "1 when a verified model is loaded on every scraped model-service instance.",
            [
                target(
                    'min(max by (instance) (sentiment_model_ready) or max by (instance) (up{service="sentiment-model-service"}) * 0)',
                    "model service",
                )
            ],
            thresholds=steps(RED, 1, GREEN),
            mappings=[
                {"type": "value", "options": {"0": {"text": "NOT READY"}, "1": {"text": "READY"}}}
            ],
            text_mode="value",
            w=6,
        ),
        row("Traffic"),
        timeseries(
            "Requests per second by service and version",
            "Requests per service and pod version (v1 stable, v2 canary), without probes.",
            [target(f"sum by (service, version) ({all_responses})", "{{service}} {{version}}")],
            unit="reqps",
        ),
        timeseries(
            "Responses by status code",
            "Responses per service and HTTP status.",
            [target(f"sum by (service, status) ({all_responses})", "{{service}} {{status}}")],
            unit="reqps",
            stack=True,
        ),
        timeseries(
            "Web app requests by route and status class",
            "The web app's own request counter, by URL name and status class.",
            [
                target(
                    f"sum by (route, status_class) (rate(sentiment_app_requests_total{{{APP}}}[$__rate_interval]))",
                    "{{route}} {{status_class}}",
                )
            ],
            unit="reqps",
            w=GRID_COLUMNS,
        ),
        row("Errors"),
        timeseries(
            "5xx ratio by service and version",
            "Share of requests answered with a server error.",
            [
                target(
                    ratio_or_zero(errors, all_responses, "service, version"),
                    "{{service}} {{version}}",
                )
            ],
            unit="percentunit",
        ),
        timeseries(
            "4xx per second by service",
            "Client errors: invalid input, unknown pages, oversize bodies.",
            [
                target(
                    f'sum by (service, status) (rate({RESPONSES}{{{VIEWS}, status=~"4.."}}[$__rate_interval]))',
                    "{{service}} {{status}}",
                )
            ],
            unit="reqps",
        ),
        timeseries(
            "Failed model-service calls from the web app",
            "Calls from the web app to the model service that failed, by reason.",
            [
                target(
                    "sum by (version, reason) (rate(sentiment_app_model_errors_total[$__rate_interval]))",
                    "{{version}} {{reason}}",
                )
            ],
            unit="reqps",
        ),
        timeseries(
            "Rate-limited requests (429) at the ingress gateway",
            "Requests the ingress gateway refused with 429 (local rate limit): Istio's "
            "metric in the cluster, Envoy's rate-limit counter on the local mesh.",
            [
                target(
                    'sum(rate(istio_requests_total{reporter="source", service="sentiment-ingressgateway", response_code="429"}[$__rate_interval]))',
                    "429 (Istio gateway)",
                ),
                target(
                    'sum(rate(envoy_http_local_rate_limit_rate_limited{envoy_local_http_ratelimit_prefix="sentiment_rate_limit"}[$__rate_interval]))',
                    "429 (Envoy local rate limit)",
                ),
            ],
            unit="reqps",
        ),
        row("Latency"),
        timeseries(
            "Web app latency p50 / p95 / p99 by version",
            "Server-side time per request (django-prometheus), without probes.",
            quantile_targets(
                f'{LATENCY}{{service="sentiment-app-service", view!~"{PROBE_VIEWS}"}}',
                "version",
                "{{version}}",
            ),
            unit="s",
        ),
        timeseries(
            "Model service latency p50 / p95 / p99 by version",
            "Server-side time per request (django-prometheus), without probes.",
            quantile_targets(
                f'{LATENCY}{{service="sentiment-model-service", view!~"{PROBE_VIEWS}"}}',
                "version",
                "{{version}}",
            ),
            unit="s",
        ),
        timeseries(
            "p95 latency by service, version and view",
            "Which endpoint is slow.",
            [
                target(
                    quantile(0.95, latency, "service, version, view"),
                    "{{service}} {{version}} {{view}}",
                )
            ],
            unit="s",
            w=GRID_COLUMNS,
        ),
    ]
    return dashboard(
        "sentiment-service-health",
        "Sentiment / Service health",
        "Traffic, errors and latency of the web app and the model service, per version.",
        panels=panels,
        variables=[SERVICE_VARIABLE],
        tags=["health"],
    )


# --- A/B experiment ------------------------------------------------------------------------


def difference_stat(
    title: str, description: str, per_variant: Callable[[str], str], **options
) -> dict:
    """A stat of B's value of a per-variant expression minus A's."""
    b_minus_a = f"{per_variant('B')} - {per_variant('A')}"
    return stat(title, description, [target(b_minus_a, "B − A")], text_mode="value", **options)


def ab_experiment() -> dict:
    b_requests = app_requests('variant="B"', "$__range")
    ab_requests = app_requests('variant=~"A|B"', "$__range")
    share_b = f"sum({b_requests}) / sum({ab_requests})"
    by_variant_rate = (
        "sum by (variant) "
        f'(rate(sentiment_app_requests_total{{{APP}, variant=~"A|B"}}[$__rate_interval]))'
    )
    panels = [
        row("Is B healthier than A? (over the selected time range; green = B as good or better)"),
        difference_stat(
            "5xx ratio B − A",
            "B's server-error ratio minus A's. Above 0 means B fails more often.",
            variant_error_ratio,
            unit="percentunit",
            decimals=2,
            thresholds=steps(GREEN, 0.005, YELLOW, 0.02, RED),
        ),
        difference_stat(
            "Correct-feedback rate B − A",
            "Share of B's predictions users marked correct minus A's. Below 0 means users "
            "agree with B less often.",
            variant_correct_ratio,
            unit="percentunit",
            decimals=1,
            thresholds=steps(RED, -0.1, YELLOW, 0, GREEN),
        ),
        difference_stat(
            "p95 latency B − A",
            "B's 95th-percentile request latency minus A's. Above 0 means B is slower.",
            variant_p95,
            unit="s",
            decimals=3,
            thresholds=steps(GREEN, 0.1, YELLOW, 0.5, RED),
        ),
        stat(
            "Traffic share of B",
            "B's share of the web app's experiment traffic (the configured split, if "
            "routing works).",
            [target(share_b, "B")],
            unit="percentunit",
            decimals=1,
            text_mode="value",
        ),
        stat(
            "5xx ratio of each variant",
            "Server-error ratio of each variant over the selected range.",
            [target(variant_error_ratio(v), v) for v in ("A", "B")],
            unit="percentunit",
            decimals=2,
            thresholds=steps(GREEN, 0.01, YELLOW, 0.05, RED),
        ),
        stat(
            "Correct-feedback rate of each variant",
            "Share of each variant's predictions that users marked correct.",
            [target(variant_correct_ratio(v), v) for v in ("A", "B")],
            unit="percentunit",
            decimals=1,
        ),
        stat(
            "Feedback verdicts per variant",
            "How many verdicts the rates above rest on: few verdicts, weak evidence.",
            [
                target(f'sum(increase(sentiment_app_feedback_total{{variant="{v}"}}[$__range]))', v)
                for v in ("A", "B")
            ],
            decimals=0,
        ),
        stat(
            "Assignments per variant",
            "Visitors assigned to each variant over the selected range.",
            [
                target(
                    'sum by (variant) (increase(sentiment_experiment_assignments_total{experiment=~"$experiment"}[$__range]))',
                    "{{variant}}",
                )
            ],
            decimals=0,
        ),
        row("Side by side"),
        timeseries(
            "Traffic share per variant",
            "Share of the web app's requests per variant.",
            [
                target(
                    f"{by_variant_rate} / ignoring (variant) group_left sum({by_variant_rate})",
                    "{{variant}}",
                )
            ],
            unit="percentunit",
            stack=True,
        ),
        timeseries(
            "Correct-feedback rate per variant (15 min window)",
            "Share of predictions users marked correct, per variant.",
            [
                target(
                    'sum by (variant) (increase(sentiment_app_feedback_total{variant=~"A|B", correct="true"}[15m])) / sum by (variant) (increase(sentiment_app_feedback_total{variant=~"A|B"}[15m]))',
                    "{{variant}}",
                )
            ],
            unit="percentunit",
        ),
        timeseries(
            "5xx ratio per variant",
            "Server-error ratio per variant.",
            [
                target(
                    ratio_or_zero(
                        f'rate(sentiment_app_requests_total{{{APP}, variant=~"A|B", status_class="5xx"}}[$__rate_interval])',
                        f'rate(sentiment_app_requests_total{{{APP}, variant=~"A|B"}}[$__rate_interval])',
                        "variant",
                    ),
                    "{{variant}}",
                )
            ],
            unit="percentunit",
        ),
        timeseries(
            "Request latency p95 per variant",
            "95th percentile of the web app's request latency, per variant.",
            [
                target(
                    quantile(
                        0.95,
                        f'sentiment_app_request_seconds_bucket{{{APP}, variant=~"A|B"}}',
                        "variant",
                    ),
                    "p95 {{variant}}",
                ),
                target(
                    quantile(
                        0.95, 'sentiment_app_prediction_seconds_bucket{variant=~"A|B"}', "variant"
                    ),
                    "p95 prediction {{variant}}",
                ),
            ],
            unit="s",
        ),
        timeseries(
            "Requests per variant and status class",
            "The web app's requests per variant, by status class.",
            [
                target(
                    f'sum by (variant, status_class) (rate(sentiment_app_requests_total{{{APP}, variant=~"A|B"}}[$__rate_interval]))',
                    "{{variant}} {{status_class}}",
                )
            ],
            unit="reqps",
        ),
        timeseries(
            "Predictions per variant and sentiment",
            "Predictions served per variant; a shift in the mix hints at a different model.",
            [
                target(
                    'sum by (variant, sentiment) (rate(sentiment_app_predictions_total{variant=~"A|B"}[$__rate_interval]))',
                    "{{variant}} {{sentiment}}",
                )
            ],
            unit="reqps",
        ),
        row("Assignments and canary guard"),
        timeseries(
            "Assignments per variant and source",
            "New assignments per second (source: cookie, header, hash...).",
            [
                target(
                    'sum by (experiment, variant, source) (rate(sentiment_experiment_assignments_total{experiment=~"$experiment"}[$__rate_interval]))',
                    "{{experiment}} {{variant}} {{source}}",
                )
            ],
            unit="ops",
        ),
        timeseries(
            "Canary guard checks by outcome",
            "Evaluations of the canary guard; a rollback sends everyone back to A.",
            [
                target(
                    'sum by (experiment, outcome) (increase(sentiment_canary_checks_total{experiment=~"$experiment"}[$__rate_interval]))',
                    "{{experiment}} {{outcome}}",
                ),
                target(
                    'sum by (experiment) (increase(sentiment_canary_rollbacks_total{experiment=~"$experiment"}[$__rate_interval]))',
                    "rollback {{experiment}}",
                ),
            ],
            unit="none",
        ),
    ]
    return dashboard(
        "sentiment-ab-experiment",
        "Sentiment / A/B experiment",
        "Is variant B healthier than A? Deltas first, then the variants side by side.",
        panels=panels,
        variables=[EXPERIMENT_VARIABLE],
        tags=["experiment"],
    )


# --- model ------------------------------------------------------------------------------------


def model() -> dict:
    predictions = "sentiment_model_predictions_total"
    panels = [
        row("Now"),
        stat(
            "Model version in use",
            "Model versions loaded and ready on the model service, per variant (v1 stable, v2 canary).",
            [
                target(
                    "max by (version, model_version) (sentiment_model_ready == 1)",
                    "{{version}}: {{model_version}}",
                )
            ],
            text_mode="name",
            w=6,
        ),
        stat(
            "Predictions per second",
            "Reviews classified by the model service (single and batch), per model version.",
            [
                target(
                    f"sum by (model_version) (rate({predictions}[$__rate_interval]))",
                    "{{model_version}}",
                )
            ],
            unit="ops",
            w=6,
        ),
        stat(
            "Positive ratio",
            "Share of reviews classified positive over the selected range (from counters).",
            [
                target(
                    ratio_or_zero(
                        f'increase({predictions}{{sentiment="positive"}}[$__range])',
                        f"increase({predictions}[$__range])",
                    ),
                    "positive",
                )
            ],
            unit="percentunit",
            decimals=1,
            w=4,
        ),
        stat(
            "Mean confidence",
            "Average probability of the predicted class.",
            [
                target(
                    "sum(increase(sentiment_model_confidence_sum[$__range])) / sum(increase(sentiment_model_confidence_count[$__range]))",
                    "mean",
                )
            ],
            unit="percentunit",
            decimals=1,
            w=4,
        ),
        stat(
            "Low-confidence share (≤ 0.6)",
            "Share of predictions whose confidence was at most 0.6: the model is unsure.",
            [
                target(
                    'sum(increase(sentiment_model_confidence_bucket{le="0.6"}[$__range])) / sum(increase(sentiment_model_confidence_count[$__range]))',
                    "≤ 0.6",
                )
            ],
            unit="percentunit",
            decimals=1,
            thresholds=steps(GREEN, 0.2, YELLOW, 0.4, RED),
            w=4,
        ),
        row("Predictions"),
        timeseries(
            "Predictions by sentiment",
            "Reviews classified by the model service per second, by sentiment and model.",
            [
                target(
                    f"sum by (model_version, sentiment) (rate({predictions}[$__rate_interval]))",
                    "{{model_version}} {{sentiment}}",
                )
            ],
            unit="ops",
            stack=True,
        ),
        timeseries(
            "Positive ratio (model service and web app per variant)",
            "Share of positive predictions, computed from the counters.",
            [
                target(
                    f'sum(rate({predictions}{{sentiment="positive"}}[5m])) / sum(rate({predictions}[5m]))',
                    "model service",
                ),
                target(
                    'sum by (variant) (rate(sentiment_app_predictions_total{sentiment="positive"}[5m])) / sum by (variant) (rate(sentiment_app_predictions_total[5m]))',
                    "web app {{variant}}",
                ),
            ],
            unit="percentunit",
        ),
        timeseries(
            "Web app predictions by model version",
            "Predictions served to users, by the model version that made them.",
            [
                target(
                    "sum by (model_version, version) (rate(sentiment_app_predictions_total[$__rate_interval]))",
                    "{{model_version}} via {{version}}",
                )
            ],
            unit="ops",
            w=GRID_COLUMNS,
        ),
        row("Confidence"),
        heatmap(
            "Confidence distribution over time",
            "Predictions per confidence bucket.",
            "sum by (le) (increase(sentiment_model_confidence_bucket[$__rate_interval]))",
            unit="percentunit",
        ),
        bargauge(
            "Confidence histogram (selected range)",
            "Cumulative predictions at or below each confidence (Prometheus buckets).",
            "sum by (le) (increase(sentiment_model_confidence_bucket[$__range]))",
            unit="none",
        ),
        row("Input drift"),
        timeseries(
            "Input drift (PSI) by feature",
            "Population stability index of the last 30 minutes of live reviews against the serving model's training reference, per feature (review length, out-of-vocabulary share, predicted positive, confidence). Below 0.1 stable; above 0.25 (the SentimentInputDrift alert) a significant shift.",
            [
                target(
                    "max by (model_version, feature) (sentiment_model:drift_psi:30m)",
                    "{{model_version}} {{feature}}",
                )
            ],
            unit="none",
        ),
        timeseries(
            "Reviews behind the drift index",
            "Live reviews in the 30-minute window the index is computed over (the alert needs at least 100).",
            [
                target(
                    "sum by (model_version) (sentiment_model:drift_reviews:30m)",
                    "{{model_version}}",
                )
            ],
            unit="none",
        ),
        row("Model versions (v1 stable, v2 canary)"),
        timeseries(
            "Model service 5xx ratio by variant",
            "Share of the model service's requests answered with a server error, per variant (the pods' version label). SentimentHighErrorRate fires above 5%.",
            [
                target(
                    ratio_or_zero(
                        f'rate({RESPONSES}{{{MODEL_VIEWS}, status=~"5.."}}[5m])',
                        f"rate({RESPONSES}{{{MODEL_VIEWS}}}[5m])",
                        by="version",
                    ),
                    "{{version}}",
                )
            ],
            unit="percentunit",
            w=8,
        ),
        timeseries(
            "Model service latency p95 by variant",
            "95th percentile of the model service's request time (batches excluded), per variant.",
            [
                target(
                    quantile(
                        0.95,
                        f'{LATENCY}{{{MODEL_VIEWS}, view!="analyze-batch"}}',
                        "version",
                    ),
                    "p95 {{version}}",
                )
            ],
            unit="s",
            w=8,
        ),
        timeseries(
            "Mean confidence by model version",
            "Average probability of the predicted class, per model version: a canary that is less sure shows here first.",
            [
                target(
                    "sum by (model_version) (rate(sentiment_model_confidence_sum[5m])) / sum by (model_version) (rate(sentiment_model_confidence_count[5m]))",
                    "{{model_version}}",
                )
            ],
            unit="percentunit",
            w=8,
        ),
        row("Inference"),
        timeseries(
            "Inference time p50 / p95 / p99 by model version and endpoint",
            "Time in the model's predict call per request (a batch is one call), per model version. SentimentModelSlowInference fires when single reviews take over 1 s at p95.",
            quantile_targets(
                "sentiment_model_inference_seconds_bucket",
                "model_version, endpoint",
                "{{model_version}} {{endpoint}}",
            ),
            unit="s",
        ),
        timeseries(
            "Reviews per inference call p50 / p95",
            "Batch sizes seen by the model.",
            quantile_targets(
                "sentiment_model_batch_size_bucket", "endpoint", "{{endpoint}}", (0.5, 0.95)
            ),
            unit="none",
        ),
        row("Jobs and failures"),
        timeseries(
            "Batch jobs by status",
            "Finished batch analysis jobs.",
            [
                target(
                    "sum by (status) (increase(sentiment_batch_jobs_total[$__rate_interval]))",
                    "{{status}}",
                ),
            ],
            unit="none",
            w=8,
        ),
        timeseries(
            "Batch rows by outcome",
            "Rows of batch jobs per second, by outcome.",
            [
                target(
                    "sum by (outcome) (rate(sentiment_batch_rows_total[$__rate_interval]))",
                    "{{outcome}}",
                ),
            ],
            unit="ops",
            w=8,
        ),
        timeseries(
            "Model load failures by reason",
            "Artifacts that could not be fetched, verified or loaded.",
            [
                target(
                    "sum by (reason) (increase(sentiment_model_load_failures_total[$__rate_interval]))",
                    "{{reason}}",
                )
            ],
            unit="none",
            w=8,
        ),
    ]
    return dashboard(
        "sentiment-model",
        "Sentiment / Model",
        "What the model predicts, how sure it is, how fast, and which version is serving.",
        panels=panels,
        variables=[],
        tags=["model"],
    )


DASHBOARDS = {
    "service-health.json": service_health,
    "ab-experiment.json": ab_experiment,
    "model.json": model,
}


def render(builder) -> str:
    return json.dumps(builder(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    for name, builder in DASHBOARDS.items():
        (HERE / name).write_text(render(builder))
        print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
