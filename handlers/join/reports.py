"""Sign-up reports for organizers: the weekly progress chart (exports: handlers/join/export.py).

Organizers report progress against yearly targets ("7,965 new members, 66% of plan").
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from matplotlib.dates import MonthLocator, num2date
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

# Re-exported: callers and tests have always found the exporters here.
from handlers.join.export import LANGUAGES, VN_TZ, SignupRow, _check_lang, export_csv, export_xlsx

__all__ = ["LANGUAGES", "VN_TZ", "SignupRow", "export_csv", "export_xlsx", "weekly_chart_png"]


class _ChartLabels(NamedTuple):
    actual: str
    target: str
    pace: str
    of_target: str  # format string: {count}, {target}, {percent}
    months: tuple[str, ...]


_CHART_LABELS = {
    "vi": _ChartLabels(
        actual="Đăng ký mới (cộng dồn)",
        target="Kế hoạch năm",
        pace="Tiến độ đều theo kế hoạch",
        of_target="{count} / {target} ({percent} kế hoạch)",
        months=tuple(f"T{m}" for m in range(1, 13)),
    ),
    "en": _ChartLabels(
        actual="New sign-ups (cumulative)",
        target="Yearly target",
        pace="Even pace to target",
        of_target="{count} / {target} ({percent} of target)",
        months=(
            "Jan",
            "Feb",
            "Mar",
            "Apr",
            "May",
            "Jun",
            "Jul",
            "Aug",
            "Sep",
            "Oct",
            "Nov",
            "Dec",
        ),
    ),
}


def _format_int(value: float, lang: str) -> str:
    # Vietnamese groups thousands with dots: "7.965".
    text = f"{round(value):,}"
    return text.replace(",", ".") if lang == "vi" else text


def _format_percent(ratio: float, lang: str) -> str:
    text = f"{ratio * 100:.1f}%"
    return text.replace(".", ",") if lang == "vi" else text


def weekly_chart_png(
    counts_by_week: Sequence[tuple[date, int]],
    target: int | None,
    *,
    year: int,
    title: str,
    lang: str = "vi",
) -> bytes:
    """A PNG line chart of cumulative sign-ups by week across `year`, against `target`.

    `counts_by_week` holds (first day of the week, sign-ups that week), in any order.
    With a target, the chart also shows the even-pace line from 0 on 1 January to the
    target on 31 December, so an organizer sees at a glance whether the drive is on track.
    The title comes from the caller, already in the reader's language.
    """
    _check_lang(lang)
    labels = _CHART_LABELS[lang]
    start, end = date(year, 1, 1), date(year, 12, 31)

    weeks = sorted(counts_by_week)
    xs: list[date] = []
    ys: list[int] = []
    total = 0
    for week_start, count in weeks:
        total += count
        # The ISO week holding 1 January can start in December: plot it on 1 January so
        # its sign-ups count without stretching the axis into the previous year.
        xs.append(max(week_start, start))
        ys.append(total)

    # Figure, not pyplot: pyplot keeps global state and picks a GUI backend; a bare
    # Figure renders with Agg when saved and is safe in a server thread.
    figure = Figure(figsize=(10, 5.5), dpi=120, layout="constrained")
    axes = figure.add_subplot()
    # The x values are dates, which matplotlib converts through its unit registry; its
    # type stubs admit only numbers, hence the ignores on the calls that take them.
    if xs:
        axes.plot(
            xs,  # type: ignore[arg-type]  # dates, see above
            ys,
            marker="o",
            markersize=3,
            linewidth=2,
            color="#c62828",
            label=labels.actual,
        )
    if target:
        axes.axhline(
            target,
            color="#1565c0",
            linestyle="--",
            linewidth=1.5,
            label=f"{labels.target}: {_format_int(target, lang)}",
        )
        axes.plot(
            [start, end],  # type: ignore[arg-type]  # dates, see above
            [0, target],
            color="#1565c0",
            linestyle=":",
            linewidth=1,
            alpha=0.7,
            label=labels.pace,
        )
    if xs:
        note = _format_int(total, lang)
        if target:
            note = labels.of_target.format(
                count=note,
                target=_format_int(target, lang),
                percent=_format_percent(total / target, lang),
            )
        axes.annotate(
            note,
            xy=(xs[-1], total),
            xytext=(8, 8),
            textcoords="offset points",
            fontsize=9,
        )

    axes.set_title(title)
    axes.set_xlim(start, end)  # type: ignore[arg-type]  # dates, see above
    axes.set_ylim(bottom=0, top=max([*ys, target or 0, 1]) * 1.12)
    axes.xaxis.set_major_locator(MonthLocator())
    months = labels.months
    axes.xaxis.set_major_formatter(
        # Month names by hand: locale-dependent formatting would follow the server's locale.
        FuncFormatter(lambda x, _pos: months[num2date(x).month - 1])
    )
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: _format_int(y, lang)))
    axes.grid(True, alpha=0.3)
    if xs or target:
        axes.legend(loc="upper left")

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
