"""report.html in a real headless browser (Chromium): it renders, with its charts and numbers,
and an untrusted completion's markup does not run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from sfstream.report_html import write_html
from test_report_html import hostile_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

if CHROMIUM is None:
    if os.environ.get("SFSTREAM_REQUIRE_BROWSER"):
        raise RuntimeError("SFSTREAM_REQUIRE_BROWSER is set but chromium is not installed")
    pytest.skip(
        "chromium is not installed (apt-get install chromium; .ci/run installs it)",
        allow_module_level=True,
    )


def chromium(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            *args,
        ],
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def dump_dom(page: Path) -> str:
    proc = chromium("--dump-dom", page.resolve().as_uri())
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout.decode()


def screenshot(page: Path, png: Path, size: str = "1280,2400") -> None:
    proc = chromium(f"--screenshot={png}", f"--window-size={size}", page.resolve().as_uri())
    assert proc.returncode == 0 and png.exists(), proc.stderr.decode(errors="replace")


@pytest.fixture(scope="module")
def run_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("browser")
    proc = subprocess.run(
        [sys.executable, "-m", "sfstream", "run", "--out", str(base / "out"), "-q"],
        capture_output=True,
        cwd=base,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return base / "out"


def test_report_renders_with_its_charts_in_chromium(run_out: Path, tmp_path: Path) -> None:
    from PIL import Image

    page = run_out / "report.html"
    png = tmp_path / "report.png"
    screenshot(page, png)
    with Image.open(png) as image:
        assert image.size == (1280, 2400)
        rgb = image.convert("RGB")
        colours = {colour: count for count, colour in rgb.getcolors(maxcolors=1280 * 2400)}
        # A blank or failed page is one colour; a page of text, tables and charts has many,
        # among them the charts' kept (teal) and rejected (orange) bars, filled solid.
        assert len(colours) > 50
        assert colours.get((0x2A, 0x9D, 0x8F), 0) > 1000
        assert colours.get((0xE7, 0x6F, 0x51), 0) > 100

    dom = dump_dom(page)
    report = orjson.loads((run_out / "report.json").read_bytes())
    # The rendered DOM has the charts as SVG with their text, and the report's numbers.
    assert len(re.findall(r"<svg\b", dom)) >= 5
    assert re.search(r"<text[^>]*>[^<]*Pass rate by source", dom) or "Pass rate by source" in dom
    for source, rate in report["by_source"].items():
        assert f"<td>{source}</td>" in dom
        assert f"{100 * rate['pass_rate']:.1f}%" in dom
    for status, count in report["statuses"].items():
        assert f"<td>{status}</td><td>{count:,}</td>" in dom
    assert "pass@1" in dom


def test_a_completion_with_a_script_stays_text_in_chromium(tmp_path: Path) -> None:
    page = write_html(hostile_report(), tmp_path / "hostile.html", title="hostile")
    dom = dump_dom(page)
    # Had the script run, the title would be "pwned"; had the markup been parsed, the DOM
    # would hold a <script> or an <img>.
    assert "<title>hostile</title>" in dom
    assert "<script" not in dom and "<img" not in dom
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
