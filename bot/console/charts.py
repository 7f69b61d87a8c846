"""The Overview page's weekly bar chart, drawn as inline SVG on the server.

Only the geometry is computed here; templates/_chart.html writes the markup through
Jinja's autoescape, so a province name or a label is never markup. The chart has no
script and no style attribute (the Content-Security-Policy allows neither): colours come
from console.css through class names. Its <title> and <desc> carry every week's figure as
text, so a screen reader reads the same numbers the bars show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 26, 30  # room for the count axis, value labels and dates
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
BAR_SHARE = 0.7  # of each week's slot; the rest is the gap between bars


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    week: date  # the Monday
    label: str  # under the bar: the Monday as dd/mm
    tip: str  # the bar's own <title>


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    id: str
    title: str
    desc: str
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    base: int = HEIGHT - BOTTOM  # the y of the zero line


def _r(value: float) -> float:
    return round(value, 1)


def weekly_chart(
    chart_id: str, weeks: Sequence[tuple[date, int]], *, title: str, tip: Callable[[date, int], str]
) -> Chart:
    """One bar per week, oldest first, scaled so the busiest week fills the height."""
    weeks = sorted(weeks)
    top = max((n for _, n in weeks), default=0)
    scale = max(top, 1)  # an empty quarter draws flat bars, not a division by zero
    base = HEIGHT - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(weeks), 1)
    width = slot * BAR_SHARE
    bars = []
    for i, (monday, n) in enumerate(weeks):
        height = PLOT_HEIGHT * n / scale
        bars.append(
            Bar(
                x=_r(LEFT + i * slot + (slot - width) / 2),
                y=_r(base - height),
                width=_r(width),
                height=_r(height),
                value=n,
                week=monday,
                label=monday.strftime("%d/%m"),
                tip=tip(monday, n),
            )
        )
    values = sorted({0, scale // 2, scale}) if scale >= 2 else [0, scale]
    ticks = tuple(Tick(_r(base - PLOT_HEIGHT * v / scale), str(v)) for v in values)
    return Chart(chart_id, title, "; ".join(b.tip for b in bars), tuple(bars), ticks)
