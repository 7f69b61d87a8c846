"""Poll results that protect the people behind them.

k-anonymity: a breakdown group with fewer than `min_group` respondents is merged into
"other groups" (and more groups join it until it reaches `min_group`); any cell below
`min_group` is shown as "< k". Complementary suppression then hides a second cell
wherever a hidden one could be worked out by subtraction: from its row's respondents, or
from the overall count of its choice shown above the breakdown. Results never name anyone.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from handlers.i18n import Catalog
from handlers.join.provinces import get_province
from storage.listening import Poll, PollTally, Tally

OTHER = "*other"


@dataclass(slots=True)
class Row:
    group: str  # the group's value, or OTHER for merged small groups
    respondents: int | None  # None: hidden
    cells: list[int | None]  # None: hidden


def suppress(groups: dict[str, Tally], k: int, n_choices: int) -> list[Row]:
    """The breakdown rows as they may be shown."""
    items = sorted(((g, t) for g, t in groups.items() if t.respondents > 0), key=lambda gt: (-gt[1].respondents, gt[0]))
    big = [(g, t) for g, t in items if t.respondents >= k]
    small = [(g, t) for g, t in items if t.respondents < k]
    merged: list[tuple[str, Tally]] = []
    if small:
        other = Tally(0, [0] * n_choices)
        for _, t in small:
            _add(other, t)
        # A merged group that is still too small takes in the smallest shown groups.
        while other.respondents < k and big:
            _add(other, big.pop()[1])
        merged = [(OTHER, other)]
    rows: list[tuple[str, Tally]] = big + merged
    shown_total = [t.respondents >= k for _, t in rows]
    hidden = [
        [t.counts[c] < k for c in range(n_choices)] if shown_total[r] else [True] * n_choices
        for r, (_, t) in enumerate(rows)
    ]
    changed = True
    while changed:
        changed = False
        # Rows: one hidden cell beside a shown row total is a subtraction away.
        for r, (_, t) in enumerate(rows):
            if shown_total[r] and sum(hidden[r]) == 1:
                changed |= _hide_smallest(hidden[r], t.counts, range(n_choices))
        # Columns: one hidden cell under the shown overall count of its choice.
        if len(rows) > 1:
            for c in range(n_choices):
                column = [hidden[r][c] for r in range(len(rows))]
                if sum(column) == 1:
                    candidates = [r for r in range(len(rows)) if not hidden[r][c]]
                    r = min(candidates, key=lambda r: rows[r][1].counts[c])
                    hidden[r][c] = True
                    changed = True
    return [
        Row(
            g,
            t.respondents if shown_total[r] else None,
            [None if hidden[r][c] else t.counts[c] for c in range(n_choices)],
        )
        for r, (g, t) in enumerate(rows)
    ]


def _add(into: Tally, t: Tally) -> None:
    into.respondents += t.respondents
    for i, c in enumerate(t.counts):
        into.counts[i] += c


def _hide_smallest(hidden: list[bool], counts: list[int], indexes: range) -> bool:
    candidates = [i for i in indexes if not hidden[i]]
    if not candidates:
        return False
    hidden[min(candidates, key=lambda i: counts[i])] = True
    return True


# -- wording ------------------------------------------------------------------------
def percent(part: int, whole: int, lang: str) -> str:
    if whole <= 0:
        return "–"
    text = f"{part * 100 / whole:.0f}%"
    return text


def group_label(catalog: Catalog, lang: str, dimension: str, value: str) -> str:
    if value == OTHER:
        return catalog.t(lang, "listening.results.other_groups")
    if value == "":
        return catalog.t(lang, "listening.results.unknown_group")
    if dimension == "province":
        p = get_province(value)
        return p.name(lang) if p else value
    if dimension == "channel":
        key = f"broadcasts.channel.{value}"
        return catalog.t(lang, key) if catalog.has(key) else value
    if dimension == "language":
        return catalog.t(lang, f"broadcasts.lang.{value}") if catalog.has(f"broadcasts.lang.{value}") else value
    return value


def overall_hidden(tally: PollTally, k: int) -> bool:
    """Fewer than k answers in all: even the overall counts could point at someone."""
    return 0 < tally.overall.respondents < k


def results_dict(
    poll: Poll, tally: PollTally, k: int, *, by: list[str], lang: str, catalog: Catalog, status: str
) -> dict[str, Any]:
    """What `poll results --json` prints: counts only, hidden cells as "<k"."""
    hidden = overall_hidden(tally, k)
    total = tally.overall.respondents
    out: dict[str, Any] = {
        "id": poll.id,
        "question": poll.question(lang),
        "multi": poll.multi,
        "status": status,
        "closes_at": poll.closes_at.isoformat(),
        "delivered": tally.delivered,
        "respondents": total,
        "response_rate": round(total / tally.delivered, 4) if tally.delivered else None,
        "min_group": k,
        "choices": [
            {
                "choice": i + 1,
                "label": c.label(lang),
                "count": f"<{k}" if hidden else tally.overall.counts[i],
                "percent": None if hidden or not total else round(tally.overall.counts[i] * 100 / total, 1),
            }
            for i, c in enumerate(poll.choices)
        ],
        "breakdowns": {},
    }
    for dimension in by:
        rows = suppress(tally.breakdowns.get(dimension, {}), k, len(poll.choices))
        out["breakdowns"][dimension] = [
            {
                "group": r.group,
                "label": group_label(catalog, lang, dimension, r.group),
                "respondents": r.respondents if r.respondents is not None else f"<{k}",
                "counts": [c if c is not None else f"<{k}" for c in r.cells],
            }
            for r in rows
        ]
    return out


def results_text(
    catalog: Catalog,
    lang: str,
    poll: Poll,
    tally: PollTally,
    k: int,
    *,
    status: str,
    by: list[str],
    overall_only: bool = False,
) -> str:
    t = catalog.t
    total = tally.overall.respondents
    lines = [t(lang, "listening.results.title", id=poll.id, question=poll.question(lang)), status]
    if overall_only:
        lines.append(t(lang, "listening.results.respondents_only", respondents=total))
    else:
        rate = percent(total, tally.delivered, lang) if tally.delivered else "–"
        lines.append(t(lang, "listening.results.rate", delivered=tally.delivered, respondents=total, rate=rate))
    if total == 0:
        lines.append(t(lang, "listening.results.none_yet"))
        return "\n".join(lines)
    if overall_hidden(tally, k):
        lines.append(t(lang, "listening.results.too_few", k=k))
        return "\n".join(lines)
    for i, choice in enumerate(poll.choices):
        count = tally.overall.counts[i]
        lines.append(f"{i + 1}. {choice.label(lang)}: {count} ({percent(count, total, lang)}) {_bar(count, total)}")
    if poll.multi:
        lines.append(t(lang, "listening.results.multi_note"))
    for dimension in by:
        rows = suppress(tally.breakdowns.get(dimension, {}), k, len(poll.choices))
        if not rows:
            continue
        lines.append("")
        lines.append(t(lang, f"listening.results.by_{dimension}"))
        for r in rows:
            label = group_label(catalog, lang, dimension, r.group)
            size = str(r.respondents) if r.respondents is not None else f"< {k}"
            cells = " · ".join(f"{i + 1}: {c if c is not None else f'< {k}'}" for i, c in enumerate(r.cells))
            lines.append(f"• {label} ({size}): {cells}")
        lines.append(t(lang, "listening.results.suppressed_note", k=k))
    return "\n".join(lines)


def _bar(count: int, total: int, width: int = 10) -> str:
    filled = round(width * count / total) if total else 0
    return "▓" * filled + "░" * (width - filled)


def chart_png(poll: Poll, tally: PollTally, lang: str, k: int) -> bytes | None:
    """A horizontal bar chart of the overall counts; None when they must stay hidden."""
    total = tally.overall.respondents
    if total == 0 or overall_hidden(tally, k):
        return None
    from matplotlib.figure import Figure  # slow to import: only when a chart is drawn

    labels = [f"{i + 1}. {c.label(lang)}"[:40] for i, c in enumerate(poll.choices)]
    counts = tally.overall.counts
    fig = Figure(figsize=(7, 1.2 + 0.6 * len(labels)), dpi=100)
    ax = fig.add_subplot()
    y = list(range(len(labels)))[::-1]
    ax.barh(y, counts, color="#c62828")
    ax.set_yticks(y, labels)
    for yi, count in zip(y, counts, strict=True):
        ax.text(count, yi, f" {count} ({count * 100 / total:.0f}%)", va="center")
    ax.set_xlim(0, max(counts) * 1.3 + 1)
    ax.set_title(poll.question(lang)[:70])
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
