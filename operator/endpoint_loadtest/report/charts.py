"""Charts as inline SVG, drawn with pygal (pure Python, no network: no script is fetched).

Every chart here is a pygal.XY or pygal.Bar rendered to an <svg> element; the page
embeds it as is. pygal's own tooltip script is turned off (`js=[]`), so a report opens
the same offline, in a mail attachment or from a CI artefact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pygal
from pygal.style import Style

Point = tuple[float, float]

WINDOW_COLOUR = "#dbe9f6"
# Lines take these in turn; a colour keeps one meaning across every chart of a report.
LINE_COLOURS = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")
DASHED_COLOUR = "#555555"
MARK_COLOURS = {"knee": "#2ca02c", "broken": "#d62728"}
WIDTH, HEIGHT = 900, 300


def _style(colours: list[str]) -> Style:
    """pygal colours series by the order they are added: each chart gets its own list."""
    return Style(
        background="white",
        plot_background="white",
        foreground="#333",
        foreground_strong="#111",
        foreground_subtle="#ddd",
        font_family="DejaVu Sans, Helvetica, Arial, sans-serif",
        colors=tuple(colours) or LINE_COLOURS,
        label_font_size=11,
        major_label_font_size=11,
        legend_font_size=12,
        title_font_size=14,
        guide_stroke_color="#eee",
        major_guide_stroke_color="#e4e4e4",
        major_guide_stroke_dasharray="0",
        guide_stroke_dasharray="0",
        opacity=".9",
        opacity_hover=".9",
    )


def _config(title: str, x_title: str, y_title: str, **extra: object) -> dict[str, object]:
    return {
        "title": title,
        "x_title": x_title,
        "y_title": y_title,
        "js": [],
        "width": WIDTH,
        "height": HEIGHT,
        "show_dots": False,
        "stroke_style": {"width": 2},
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 3,
        "truncate_legend": -1,
        "include_x_axis": True,
        "print_values": False,
        "explicit_size": True,
        "margin_bottom": 40,
        "value_formatter": _short,
        "x_value_formatter": _short,
        **extra,
    }


def _short(value: float) -> str:
    return f"{value:,.4g}"


def clean(points: Iterable[tuple[float | None, float | None]]) -> list[Point]:
    """The points with both coordinates known (a figure not measured is left out, not 0)."""
    return [(float(x), float(y)) for x, y in points if x is not None and y is not None]


def top(*series: Sequence[Point]) -> float:
    """The highest y of the series, for the window's band (1 when there is nothing)."""
    values = [y for points in series for _, y in points]
    return max(values, default=0.0) * 1.05 or 1.0


def time_chart(
    title: str,
    y_title: str,
    lines: dict[str, list[Point]],
    window: tuple[float, float] | None,
    dashed: dict[str, list[Point]] | None = None,
    span: tuple[float, float] | None = None,
) -> str:
    """Lines over time (seconds from the start), the measured window shaded; `span`: the
    x range, the same for every time chart of a report so that they line up."""
    dashed = {name: pts for name, pts in (dashed or {}).items() if pts}
    colours = [WINDOW_COLOUR, *LINE_COLOURS[: len(lines)], *[DASHED_COLOUR] * len(dashed)]
    extra = {"xrange": span} if span is not None and span[1] > span[0] else {}
    chart = pygal.XY(
        style=_style(colours), **_config(title, "seconds from the start", y_title, **extra)
    )
    height = top(*lines.values(), *dashed.values())
    if window is not None:
        start, end = window
        band = [(start, 0.0), (start, height), (end, height), (end, 0.0)]
        chart.add("measured window", band, fill=True, stroke_style={"width": 0})
    else:
        chart.add("measured window (not reached)", [])
    for name, pts in lines.items():
        chart.add(name, pts)
    for name, pts in dashed.items():
        chart.add(name, pts, stroke_style={"width": 2, "dasharray": "6, 4"})
    return _svg(chart)


def xy_chart(
    title: str,
    x_title: str,
    y_title: str,
    lines: dict[str, list[Point]],
    marks: dict[str, tuple[str, list[Point]]] | None = None,
    dashed: dict[str, list[Point]] | None = None,
) -> str:
    """Lines with dots (one per step); `marks`: kind ("knee" or "broken") -> (legend, points),
    drawn large in the kind's colour."""
    dashed, marks = dashed or {}, marks or {}
    colours = [*LINE_COLOURS[: len(lines)], *[DASHED_COLOUR] * len(dashed)]
    colours += [MARK_COLOURS[kind] for kind in marks]
    chart = pygal.XY(
        style=_style(colours), **_config(title, x_title, y_title, show_dots=True, dots_size=3)
    )
    for name, pts in lines.items():
        chart.add(name, pts)
    for name, pts in dashed.items():
        chart.add(name, pts, show_dots=False, stroke_style={"width": 1.5, "dasharray": "6, 4"})
    for name, pts in marks.values():
        chart.add(name, pts, stroke=False, dots_size=9)
    return _svg(chart)


def bar_chart(
    title: str, y_title: str, labels: list[str], bars: dict[str, list[float | None]]
) -> str:
    """Grouped bars: one group per label, one bar per series."""
    chart = pygal.Bar(
        style=_style(list(LINE_COLOURS[: len(bars)])),
        **_config(title, "", y_title, print_values=True),
    )
    chart.x_labels = labels
    for name, values in bars.items():
        chart.add(name, values)
    return _svg(chart)


def _svg(chart: pygal.graph.graph.Graph) -> str:
    return chart.render(is_unicode=True, disable_xml_declaration=True)
