"""Geometry of the small SVG charts on the statistics page, computed server-side.

The page's policy forbids inline scripts and styles, so charts are SVG whose sizes are
attributes; colours come from classes in static/experiments/stats.css.
"""

import math
from dataclasses import dataclass

from webapp.experiments.selectors import MetricResult, TimePoint, VariantStats
from webapp.experiments.statistics import SampleRatioCheck
from webapp.experiments.templatetags.experiment_format import (
    count,
    difference,
    ms,
    percent,
    points,
)

WIDTH = 560
LABEL_WIDTH = 120
VALUE_WIDTH = 130
BAR_HEIGHT = 18
ROW_HEIGHT = 26
GROUP_GAP = 12


def _n(value: float) -> str:
    return f"{value:.1f}"


@dataclass(frozen=True)
class Bar:
    label: str
    variant: str  # "a" or "b": the colour
    text: str
    y: str
    text_y: str
    width: str
    value_x: str


@dataclass(frozen=True)
class BarChart:
    title: str
    width: int
    height: int
    bar_x: int
    bar_height: int
    bars: list[Bar]


def _bar_chart(title: str, groups: list[tuple[str, float, list[tuple[str, float | None, str]]]]):
    """groups: (name, scale maximum, [(variant, value, text)]); each group has its own scale."""
    room = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars, y = [], 0
    for name, scale, rows in groups:
        for variant, value, text in rows:
            width = room * (value or 0) / scale if scale > 0 else 0
            bars.append(
                Bar(
                    label=f"{name} · {variant}",
                    variant=variant.lower(),
                    text=text,
                    y=_n(y),
                    text_y=_n(y + BAR_HEIGHT - 4),
                    width=_n(max(width, 0)),
                    value_x=_n(LABEL_WIDTH + max(width, 0) + 6),
                )
            )
            y += ROW_HEIGHT
        y += GROUP_GAP
    return BarChart(title, WIDTH, int(y - GROUP_GAP), LABEL_WIDTH, BAR_HEIGHT, bars)


def _of(rate: float | None, total: int) -> str:
    return f"{percent(rate)} of {count(total)}"


def rate_chart(stats: dict[str, VariantStats]) -> BarChart:
    """Correct-feedback rates on a 0-100% scale; error rates on their own, finer scale."""
    worst_error = max((s.error_rate or 0) for s in stats.values())
    error_scale = max(worst_error, 0.05)
    return _bar_chart(
        f"Correct feedback (scale 0 to 100%) and errors (scale 0 to {percent(error_scale)})",
        [
            (
                "Correct",
                1.0,
                [(v, s.correct_rate, _of(s.correct_rate, s.feedback)) for v, s in stats.items()],
            ),
            (
                "Errors",
                error_scale,
                [
                    (v, s.error_rate, _of(s.error_rate, s.predictions + s.failures))
                    for v, s in stats.items()
                ],
            ),
        ],
    )


def latency_chart(stats: dict[str, VariantStats]) -> BarChart:
    scale = max((s.p95_latency_ms or 0) for s in stats.values()) or 1.0
    items = stats.items()
    return _bar_chart(
        "Latency of answered predictions",
        [
            ("Mean", scale, [(v, s.mean_latency_ms, ms(s.mean_latency_ms)) for v, s in items]),
            ("p95", scale, [(v, s.p95_latency_ms, ms(s.p95_latency_ms)) for v, s in items]),
        ],
    )


@dataclass(frozen=True)
class IntervalPlot:
    width: int
    height: int
    axis_y: int
    x_zero: str
    x_low: str  # the deciding interval, drawn thick
    x_high: str
    x_other_low: str  # the other interval, drawn thin below it
    x_other_high: str
    x_point: str
    ticks: list[tuple[str, str]]  # (x, label)
    low_text: str
    high_text: str
    verdict: str  # "better", "worse" or "unclear": the colour of the interval


def interval_plot(result: MetricResult) -> IntervalPlot | None:
    """The B - A difference and its two intervals on an axis centred on zero."""
    comparison, deciding = result.comparison, result.deciding
    if comparison is None or deciding is None:
        return None
    other = comparison.fixed if deciding is comparison.sequential else comparison.sequential
    bounds = (deciding.low, deciding.high, other.low, other.high)
    floor = 0.02 if result.metric.unit == "fraction" else 1.0
    extent = max(*(abs(b) for b in bounds if math.isfinite(b)), floor) * 1.15
    margin = 40
    half = WIDTH / 2 - margin

    def x(value: float) -> str:
        return _n(WIDTH / 2 + max(-extent, min(extent, value)) / extent * half)

    tick = extent / 1.15
    unit = result.metric.unit
    return IntervalPlot(
        width=WIDTH,
        height=64,
        axis_y=22,
        x_zero=x(0.0),
        x_low=x(deciding.low),
        x_high=x(deciding.high),
        x_other_low=x(other.low),
        x_other_high=x(other.high),
        x_point=x(comparison.difference),
        ticks=[
            (x(-tick), difference(-tick, unit)),
            (x(0.0), "0"),
            (x(tick), difference(tick, unit)),
        ],
        low_text=difference(deciding.low, unit),
        high_text=difference(deciding.high, unit),
        verdict=result.verdict,
    )


@dataclass(frozen=True)
class TimeChart:
    width: int
    height: int
    x_axis: str  # y of the zero line
    band: str  # polygon points of the sequential interval
    line: str  # polyline points of the difference
    ticks: list[tuple[str, str]]  # (y, label) on the left
    first: str  # time labels under the ends
    last: str


MIN_POINTS = 2  # a line needs two
TIME_HEIGHT = 180
TIME_LEFT = 70


def time_chart(series: list[TimePoint]) -> TimeChart | None:
    """The cumulative B - A of the primary metric after each hour or day, with its
    sequential interval as a band: the band may be looked at every time, so its exclusion
    of zero at any point is a valid finding."""
    if len(series) < MIN_POINTS:
        return None
    values = [v for p in series for v in (p.sequential.low, p.sequential.high, p.difference)]
    extent = max(*(abs(v) for v in values if math.isfinite(v)), 0.01) * 1.1
    room = WIDTH - TIME_LEFT - 10
    mid = TIME_HEIGHT / 2

    def y(value: float) -> float:
        return mid - max(-extent, min(extent, value)) / extent * (mid - 8)

    def x(i: int) -> float:
        return TIME_LEFT + room * i / (len(series) - 1)

    upper = [f"{_n(x(i))},{_n(y(p.sequential.high))}" for i, p in enumerate(series)]
    lower = [f"{_n(x(i))},{_n(y(p.sequential.low))}" for i, p in enumerate(series)]
    line = [f"{_n(x(i))},{_n(y(p.difference))}" for i, p in enumerate(series)]
    tick = extent / 1.1
    return TimeChart(
        width=WIDTH,
        height=TIME_HEIGHT,
        x_axis=_n(y(0.0)),
        band=" ".join(upper + lower[::-1]),
        line=" ".join(line),
        ticks=[(_n(y(tick)), points(tick)), (_n(y(0.0)), "0"), (_n(y(-tick)), points(-tick))],
        first=series[0].at.strftime("%Y-%m-%d %H:%M"),
        last=series[-1].at.strftime("%Y-%m-%d %H:%M"),
    )


@dataclass(frozen=True)
class SplitBar:
    width: int
    x_b: str  # where B's part of the bar starts
    width_b: str
    x_expected: str  # where B's part should start if the split matched the weights
    share_b: str
    expected_share_b: str


def split_bar(check: SampleRatioCheck | None) -> SplitBar | None:
    """The observed A|B split as one bar, with a marker where the weights put the boundary."""
    if check is None or check.total == 0:
        return None
    share_b = check.observed_b / check.total
    expected_share_b = check.expected_b / check.total
    return SplitBar(
        width=WIDTH,
        x_b=_n(WIDTH * (1 - share_b)),
        width_b=_n(WIDTH * share_b),
        x_expected=_n(WIDTH * (1 - expected_share_b)),
        share_b=percent(share_b),
        expected_share_b=percent(expected_share_b),
    )
