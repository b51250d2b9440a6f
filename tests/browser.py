"""Headless Chromium for the report tests: the DOM it rendered, and a screenshot.

Debian's `chromium` (hack/chromium.sh, `make report-tools`). Each call gets its own
profile directory, so runs in parallel do not share a browser. The page is opened
offline: a report that needed the network would render without its charts.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

TIMEOUT_SECONDS = 90
WIDTH = 1000


def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "chromium is not installed: run `make report-tools` (hack/chromium.sh)"
    return path


def _run(page: Path, *flags: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="elt-chromium-") as profile:
        argv = [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
            "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",  # offline
            *flags, page.resolve().as_uri(),
        ]  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def dump_dom(page: Path) -> str:
    """The document after the browser parsed and laid it out (`--dump-dom`)."""
    return _run(page, "--dump-dom").stdout


def screenshot(page: Path, png: Path, height: int) -> Image.Image:
    _run(page, f"--window-size={WIDTH},{height}", f"--screenshot={png}")
    return Image.open(png).convert("RGB")


def inked_rows(image: Image.Image) -> int:
    """How many pixel rows hold something other than the white background."""
    grey = image.convert("L").point(lambda v: 255 if v < 235 else 0)
    width, height = grey.size
    data = grey.tobytes()
    return sum(1 for row in range(height) if any(data[row * width : (row + 1) * width]))


def colours(image: Image.Image) -> int:
    return len(image.getcolors(maxcolors=1 << 20) or [])
