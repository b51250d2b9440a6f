"""Both reports (a single test's, a capacity search's) rendered in headless Chromium.

The page is opened offline from a file, as a CI artefact would be: the charts must be
in the DOM the browser built, and on the screenshot (the measured window's band, the
knee's mark), not only in the HTML we wrote.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from browser import colours, dump_dom, inked_rows, screenshot
from endpoint_loadtest.report import charts
from endpoint_loadtest.report.render import render_report

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "report"


def write(name: str, tmp_path: Path) -> Path:
    document = json.loads((FIXTURES / name).read_text())
    page = tmp_path / name.replace(".json", ".html")
    page.write_text(render_report(document["status"], document["spec"], "demo"))
    return page


def rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def pixels(image) -> set[tuple[int, int, int]]:
    return {colour for _, colour in image.getcolors(maxcolors=1 << 20)}


def near(found: set[tuple[int, int, int]], colour: str, distance: int = 24) -> bool:
    """A pixel of about this colour (lines are drawn slightly translucent, anti-aliased)."""
    want = rgb(colour)
    return any(sum(abs(a - b) for a, b in zip(pixel, want, strict=True)) <= distance
               for pixel in found)  # fmt: skip


def chart_titles(dom: str) -> list[str]:
    return re.findall(r'class="title plot_title"[^>]*>([^<]+)<', dom)


def test_single_test_report_renders_with_its_charts(tmp_path: Path) -> None:
    page = write("single-result.json", tmp_path)
    dom = dump_dom(page)
    assert chart_titles(dom) == [
        "Throughput", "Latency (live)", "Errors", "Load", "Load generator CPU",
        "Latency over the window",
    ]  # fmt: skip
    assert re.search(r'id="verdict"[^>]*><b>Failed</b>', dom)
    assert dom.count("<path") > 20  # the series' lines and the bars were laid out
    image = screenshot(page, tmp_path / "single.png", height=3000)
    assert inked_rows(image) > 1500, "the page is mostly blank"
    assert colours(image) > 50
    found = pixels(image)
    assert near(found, charts.WINDOW_COLOUR), "the measured window's band is not drawn"
    assert near(found, charts.LINE_COLOURS[0]), "no series line is drawn"


def test_search_report_renders_with_the_curve_and_the_knee(tmp_path: Path) -> None:
    page = write("search-result.json", tmp_path)
    dom = dump_dom(page)
    assert chart_titles(dom) == [
        "Achieved vs offered TPS", "Latency vs achieved TPS", "Error rate vs offered TPS",
    ]  # fmt: skip
    assert "SageMakerVariantInvocationsPerInstance" in dom
    image = screenshot(page, tmp_path / "search.png", height=3000)
    assert inked_rows(image) > 1500, "the page is mostly blank"
    found = pixels(image)
    assert near(found, charts.MARK_COLOURS["knee"]), "the knee is not marked"
    assert near(found, charts.MARK_COLOURS["broken"]), "the broken steps are not marked"
