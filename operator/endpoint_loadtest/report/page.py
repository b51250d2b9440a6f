"""The page around the charts: the verdict and its checks first, then the sections.

Every figure printed here is read from the status as the verdict computed it
(status.results, status.capacity): the report never recomputes a TPS of its own.
"""

from __future__ import annotations

from html import escape
from typing import Any

CSS = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px auto;max-width:960px;
color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.sub{color:#555;font-size:13px;margin-bottom:12px}
.verdict{padding:12px 16px;border-radius:6px;margin:12px 0;font-size:15px}
.verdict b{font-size:20px;margin-right:10px}
.Passed{background:#e3f4e1;border:1px solid #6bb86a}
.Failed{background:#fbe2e0;border:1px solid #d9534f}
.Inconclusive,.Error,.none{background:#fdf3dc;border:1px solid #e0a800}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.ok{color:#2e7d32;font-weight:bold} .bad{color:#c62828;font-weight:bold}
.chart{margin:8px 0 16px} .chart svg{max-width:100%;height:auto}
.note{color:#555;font-size:12px;margin:2px 0 10px}
pre{background:#f7f7f7;padding:8px;font-size:12px;overflow:auto}
"""


def number(value: Any, unit: str = "", decimals: int | None = 1) -> str:
    """A figure as printed: '-' when it was not measured (never 0 for unknown);
    `decimals` None: as many significant digits as the figure has (up to 6)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    if isinstance(value, float):
        return f"{value:,.6g}{unit}" if decimals is None else f"{value:,.{decimals}f}{unit}"
    return escape(str(value)) + unit


def percent(fraction: float | None) -> float | None:
    """A rate (0.012) in percent (1.2); None stays None."""
    return None if fraction is None else fraction * 100


def table(head: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """An HTML table; cells are already escaped HTML."""
    numeric = numeric or set()
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if index in numeric else f"<td>{cell}</td>"
            for index, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def chart(svg: str, note: str = "") -> str:
    caption = f'<p class="note">{escape(note)}</p>' if note else ""
    return f'<div class="chart">{svg}</div>{caption}'


def verdict_section(status: dict[str, Any]) -> str:
    """The verdict, its message and one line per check; or why there is none."""
    verdict = status.get("verdict") or {}
    result = verdict.get("result") or status.get("phase") or "none"
    message = verdict.get("message") or status.get("message") or ""
    parts = [
        f'<div class="verdict {escape(str(result))}" id="verdict"><b>{escape(str(result))}</b>'
        f"{escape(message)}</div>"
    ]
    checks = verdict.get("checks") or []
    if checks:
        rows = [
            [
                escape(str(check.get("name", ""))),
                number(check.get("threshold"), decimals=None),
                number(check.get("observed"), decimals=None),
                '<span class="ok">pass</span>'
                if check.get("passed")
                else '<span class="bad">fail</span>',
                escape(str(check.get("message", ""))),
            ]
            for check in checks
        ]
        parts.append(
            '<div id="checks">'
            + table(["check", "limit", "observed", "", "in words"], rows, {1, 2})
            + "</div>"
        )
    return "".join(parts)


def page(title: str, subtitle: str, sections: list[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f'<h1>{escape(title)}</h1><div class="sub">{escape(subtitle)}</div>'
        + "".join(sections)
        + "</body></html>\n"
    )
