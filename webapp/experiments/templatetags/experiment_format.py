"""Number formats of the statistics page; "—" stands for "not measured yet"."""

from django import template

register = template.Library()

MINUS = "\u2212"
NOTHING = "\u2014"
# Latencies from this many milliseconds on are shown without decimals.
WHOLE_MS_FROM = 100
# p-values below this are shown as "< 0.001": more digits would claim a precision the
# normal approximation does not have.
SMALLEST_PVALUE = 0.001


@register.filter
def count(value: int | None) -> str:
    return NOTHING if value is None else f"{value:,}"


@register.filter
def percent(value: float | None) -> str:
    return NOTHING if value is None else f"{value * 100:.1f}%"


@register.filter
def share(value: float | None) -> str:
    """A configured share such as a weight: as precise as it was set (10%, 12.5%)."""
    return NOTHING if value is None else f"{value * 100:g}%"


@register.filter
def points(value: float | None) -> str:
    """A difference of two rates in percentage points, always signed."""
    if value is None:
        return NOTHING
    return f"{value * 100:+.1f} pp".replace("-", MINUS)


@register.filter
def ms(value: float | None) -> str:
    if value is None:
        return NOTHING
    return f"{value:,.0f} ms" if value >= WHOLE_MS_FROM else f"{value:.1f} ms"


@register.filter
def pvalue(value: float | None) -> str:
    if value is None:
        return NOTHING
    return f"< {SMALLEST_PVALUE}" if value < SMALLEST_PVALUE else f"{value:.3f}"


@register.filter
def decimal(value: float | None, digits: int = 2) -> str:
    if value is None:
        return NOTHING
    return f"{value:,.{int(digits)}f}".replace("-", MINUS)


@register.filter
def difference(value: float | None, unit: str = "fraction") -> str:
    """A B - A difference: percentage points for fractions, signed milliseconds for times."""
    if value is None or unit == "fraction":
        return points(value)
    return f"{value:+,.1f} ms".replace("-", MINUS)


@register.filter
def estimate(value: float | None, unit: str = "fraction") -> str:
    return percent(value) if unit == "fraction" else ms(value)
