"""The report as a reader opens it: headless Chromium, offline, 1,280 px wide. Skipped where
no Chromium is installed (Debian's ``chromium`` package provides it)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[1]
# Set the title once the page has loaded: how many images failed to decode, and how far the
# page reaches past the window.
PROBE = """<script>window.addEventListener('load', () => {
  const bad = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length;
  const over = document.documentElement.scrollWidth - window.innerWidth;
  document.title = `probe images=${document.images.length} broken=${bad} overflow=${over}`;
});</script>"""


def render(page: Path, tmp_path: Path) -> dict[str, int]:
    """Open ``page`` (a copy with the probe) in headless Chromium; the probe's numbers."""
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                          "--window-size=1280,900", "--virtual-time-budget=10000",
                          "--dump-dom", probed.as_uri()], capture_output=True, text=True,
                         timeout=120)
    title = re.search(r"<title>probe (.*?)</title>", out.stdout)
    assert title, out.stderr[-2000:]
    return {k: int(v) for k, v in (p.split("=") for p in title.group(1).split())}


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium")
def test_the_example_report_renders_offline_at_1280_px(tmp_path):
    page = ROOT / "docs" / "example-report" / "report.html"
    seen = render(page, tmp_path)
    assert seen["images"] >= 5 and seen["broken"] == 0
    assert seen["overflow"] <= 0  # nothing cut off at 1,280 px
