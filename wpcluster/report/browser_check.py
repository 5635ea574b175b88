"""The report, opened in a real browser (Debian's Chromium, headless): does it show what the JUnit says?

Chromium renders ``report.html`` from disk, runs its script (which counts the images that
rendered) and dumps the DOM; the check reads the verdict table and the image counts off that DOM
and compares them with the run's JUnit, and saves a screenshot of the page beside it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from wpcluster.providers.hosts.engine import apt_install
from wpcluster.report.bundle import read_cases, verdicts

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--hide-scrollbars", "--virtual-time-budget=10000"]
SCREENSHOT_SIZE = "1280,4000"


def chromium() -> str:
    """The Chromium binary, installed from Debian's packages when missing (root only)."""
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    apt_install(["chromium"], "the report's browser check renders the page in it")
    return shutil.which("chromium") or "chromium"


class _Page(HTMLParser):
    """The verdict rows and the body's image counts, from a dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.body: dict[str, str] = {}
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "body":
            self.body = {k: v or "" for k, v in named.items()}
        elif tag == "tr" and named.get("class") == "verdict":
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@dataclass(frozen=True)
class BrowserCheck:
    images: int
    images_loaded: int
    shown: dict[str, str]  # capability -> verdict, as the browser shows them
    expected: dict[str, str]  # capability -> verdict, from the JUnit
    screenshot: Path

    def problems(self) -> list[str]:
        found = []
        if self.images < 0 or self.images_loaded < 0:
            found.append("the page's script did not run: it reported no image count")
        elif self.images_loaded != self.images:
            found.append(f"{self.images - self.images_loaded} of {self.images} images did not load")
        if self.shown != self.expected:
            differ = {k: (self.shown.get(k), self.expected.get(k)) for k in self.shown.keys() | self.expected.keys()
                      if self.shown.get(k) != self.expected.get(k)}
            found.append(f"the verdict table differs from the JUnit (shown, expected): {differ}")
        return found


def check_report(report: Path, junit: Path, screenshot: Path) -> BrowserCheck:
    """Render ``report`` in headless Chromium; compare it with ``junit``; save a screenshot."""
    browser = chromium()
    url = report.resolve().as_uri()
    dumped = subprocess.run([browser, *CHROMIUM_FLAGS, "--dump-dom", url], capture_output=True, text=True,
                            timeout=120)
    if dumped.returncode != 0 or "<body" not in dumped.stdout:
        raise RuntimeError(f"Chromium could not render {report}: exit {dumped.returncode}\n{dumped.stderr[-1500:]}")
    shot = subprocess.run([browser, *CHROMIUM_FLAGS, f"--window-size={SCREENSHOT_SIZE}",
                           f"--screenshot={screenshot.resolve()}", url], capture_output=True, text=True, timeout=120)
    if shot.returncode != 0 or not screenshot.exists():
        raise RuntimeError(f"Chromium took no screenshot of {report}: {shot.stderr[-1500:]}")
    page = _Page()
    page.feed(dumped.stdout)
    count = re.compile(r"\d+")
    images = int(page.body.get("data-images", "-1")) if count.fullmatch(page.body.get("data-images", "")) else -1
    loaded = page.body.get("data-images-loaded", "")
    return BrowserCheck(
        images=images,
        images_loaded=int(loaded) if count.fullmatch(loaded) else -1,
        shown={row[0]: row[1] for row in page.rows if len(row) >= 2},
        expected={v.capability: v.outcome for v in verdicts(read_cases(junit))},
        screenshot=screenshot,
    )
