"""The HTML profile report rendered in a real headless browser (Debian's chromium; tools/test.sh
installs it when missing, and without it this test skips, saying why). A copy of the report gets
a script that measures, after layout, every bar of the SVG chart and every row of the table; the
browser's DOM dump carries the measurements back."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from models import model_path
from pyedge.host.tool import profile_html, profile_model

PROBE = """<script>
addEventListener("load", () => {
  const bars = [...document.querySelectorAll("svg rect.bar")].map(r => {
    const b = r.getBoundingClientRect(); return [b.width, b.height]; });
  const rows = [...document.querySelectorAll("table#layers tr")].slice(1).map(tr => tr.cells.length);
  const svg = document.querySelector("svg").getBoundingClientRect();
  const fill = getComputedStyle(document.querySelector("svg rect.bar")).fill;
  document.body.setAttribute("data-probe", JSON.stringify({bars, rows, svg: [svg.width, svg.height], fill,
    check: document.getElementById("check").textContent}));
});
</script>"""


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    pytest.skip("headless browser test skipped: chromium not found (tools/test.sh installs it: apt-get "
                "install --no-install-recommends chromium)")


def test_profile_report_renders_in_headless_chromium(tmp_path):
    browser = _browser()
    r = profile_model(model_path("tflm_person_detect"), "host", runs=1)
    html = profile_html(r)
    page = tmp_path / "report.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"))
    p = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--user-data-dir=" + str(tmp_path / "profile"), "--virtual-time-budget=5000",
                        "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    m = re.search(r'data-probe="([^"]*)"', p.stdout)
    assert m, f"no measurements in the browser's DOM (exit {p.returncode}): {p.stderr[-2000:]}"
    probe = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    n = len(r["layers"])
    assert n > 20
    assert len(probe["bars"]) == n and all(w >= 1 and h > 10 for w, h in probe["bars"]), probe["bars"]
    widths = [w for w, _ in probe["bars"]]
    assert max(widths) > 100 * min(widths) or max(widths) > 400  # drawn to scale, not all equal
    assert probe["rows"] == [9] * n
    assert probe["svg"][0] > 500 and probe["svg"][1] >= n * 16
    assert probe["fill"] == "rgb(58, 123, 213)"  # the stylesheet applied to the bars
    assert "bit-exact with the host" in probe["check"]
