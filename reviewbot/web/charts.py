"""Inline SVG charts: the health trend of a series across its revisions.

Inline SVG needs no JavaScript and no image endpoint, and reads in any
browser.  Only numbers and our own labels go into the markup; every text is
passed through ``markupsafe.escape`` all the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

COLOURS = {"bug": "#c62828", "possible_bug": "#ef6c00", "other": "#9e9e9e"}


def _n(point: Mapping[str, object], key: str) -> int:
    value = point.get(key, 0)
    return value if isinstance(value, int) else 0


def trend_svg(
    trend: Sequence[Mapping[str, object]], *, bar: int = 10, height: int = 28, labels: bool = False
) -> Markup:
    """Stacked bars, one per revision: bugs, possible bugs, the rest.

    A revision whose simulator runs failed gets a dot above its bar.
    """
    if not trend:
        return Markup('<span class="muted">no review yet</span>')
    gap = max(2, bar // 3)
    label_h = 12 if labels else 0
    top = 5
    width = len(trend) * (bar + gap) + gap
    total_h = height + top + label_h
    peak = max(1, *(_n(p, "bug") + _n(p, "possible_bug") + _n(p, "other") for p in trend))
    parts = [
        f'<svg class="trend" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{total_h}" viewBox="0 0 {width} {total_h}" role="img" '
        f'aria-label="{escape(_summary(trend))}">'
    ]
    for i, p in enumerate(trend):
        x = gap + i * (bar + gap)
        y = top + height
        title = escape(_describe(p))
        parts.append(f"<g><title>{title}</title>")
        parts.append(
            f'<rect x="{x}" y="{top}" width="{bar}" height="{height}" fill="#f4f4f4"></rect>'
        )
        for key in ("bug", "possible_bug", "other"):
            h = round(_n(p, key) * height / peak)
            if h:
                y -= h
                parts.append(
                    f'<rect class="{key}" x="{x}" y="{y}" width="{bar}" height="{h}" '
                    f'fill="{COLOURS[key]}"></rect>'
                )
        if _n(p, "sim_fail"):
            parts.append(f'<circle cx="{x + bar / 2}" cy="2.5" r="2.5" fill="#6a1b9a"></circle>')
        if labels:
            parts.append(
                f'<text x="{x + bar / 2}" y="{total_h - 1}" font-size="10" '
                f'text-anchor="middle" fill="#555">v{_n(p, "version")}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def _describe(p: Mapping[str, object]) -> str:
    text = (
        f"v{_n(p, 'version')}: {_n(p, 'bug')} bug, {_n(p, 'possible_bug')} possible bug, "
        f"{_n(p, 'other')} other"
    )
    if _n(p, "sim_fail"):
        text += ", simulator failed"
    return text


def _summary(trend: Sequence[Mapping[str, object]]) -> str:
    return "findings per revision: " + "; ".join(_describe(p) for p in trend)
