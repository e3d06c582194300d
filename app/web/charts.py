"""Small inline SVG charts rendered on the server (no chart library, no script)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape

from markupsafe import Markup

from app.executions.series import Point

WIDTH, HEIGHT, PAD = 600, 120, 24


def line_chart(
    points: Sequence[Point],
    series: Sequence[tuple[str, str, Callable[[Point], float]]],
    *,
    title: str,
    start: datetime,
    end: datetime,
    unit: Callable[[float], str],
) -> Markup:
    """One SVG with a line per series (label, colour, value) over [start, end]."""
    span = max((end - start).total_seconds(), 1.0)
    top = max((value(p) for p in points for _, _, value in series), default=0.0) or 1.0

    def x(p: Point) -> float:
        return PAD + (WIDTH - 2 * PAD) * (p.start - start).total_seconds() / span

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * v / top

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"'
        ' stroke="#999"/>',
        f'<text x="{PAD}" y="12">{escape(title)} (max {escape(unit(top))})</text>',
        f'<text x="{PAD}" y="{HEIGHT - 6}">{start:%m-%d %H:%M}</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 6}" text-anchor="end">{end:%m-%d %H:%M}</text>',
    ]
    for index, (label, colour, value) in enumerate(series):
        coords = " ".join(f"{x(p):.1f},{y(value(p)):.1f}" for p in points)
        if coords:
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            parts += [
                f'<circle cx="{x(p):.1f}" cy="{y(value(p)):.1f}" r="2.5" fill="{colour}"/>'
                for p in points
            ]
        parts.append(
            f'<text x="{WIDTH - PAD - 90 * (len(series) - index)}" y="12" fill="{colour}">'
            f"■ {escape(label)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
