#!/usr/bin/env python3
"""Make ``docs/report.png``, the README's picture of ``report.html``.

Runs ``sfstream run`` on the bundled sample into a temporary folder, takes a headless Chromium
screenshot of the page it wrote, and cuts the empty background below the page's end. Needs
``chromium`` on PATH and Pillow (installed with the ``report`` extra's matplotlib).

Usage::

    .venv/bin/python scripts/report_picture.py [--out docs/report.png] [--width 1280]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=4200, help="window height before the cut")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "sfstream", "run", "--out", str(work / "out"), "-q"],
            check=True,
            capture_output=True,
        )
        shot = work / "report.png"
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size={args.width},{args.height}",
                f"--screenshot={shot}",
                (work / "out" / "report.html").as_uri(),
            ],
            check=True,
            capture_output=True,
        )
        with Image.open(shot) as image:
            rgb = image.convert("RGB")
            background = rgb.getpixel((args.width - 1, args.height - 1))
            bottom = args.height
            # The last row that holds anything but the page's background, and a margin.
            while bottom > 1 and all(
                rgb.getpixel((x, bottom - 1)) == background for x in range(0, args.width, 4)
            ):
                bottom -= 1
            rgb.crop((0, 0, args.width, min(bottom + 24, args.height))).save(
                args.out, optimize=True
            )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
