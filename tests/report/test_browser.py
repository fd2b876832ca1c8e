"""Open the report in headless Chromium: it renders, every image loads, no console errors.

A probe script is put at the top of a copy of the page. On load it counts
loaded and broken images, clicks the sortable table headers and writes the
result as JSON into ``<pre id="probe-status">``; ``--dump-dom`` prints the DOM
after the load, and Chromium's stderr carries any console message.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

PROBE = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  window.__errors.push("error: " + (e.message || (e.target && (e.target.src || e.target.tagName)) || "?"));
}, true);
document.addEventListener("securitypolicyviolation", function (e) { window.__errors.push("csp: " + e.blockedURI); });
(function () {
  var original = console.error;
  console.error = function () {
    window.__errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
    original.apply(console, arguments);
  };
})();
window.addEventListener("load", function () {
  var imgs = document.images, loaded = 0, broken = 0, i;
  for (i = 0; i < imgs.length; i++) {
    if (imgs[i].complete && imgs[i].naturalWidth > 0) { loaded++; } else { broken++; }
  }
  var order = null;
  try {
    var tables = document.querySelectorAll("table.sortable");
    for (i = 0; i < tables.length && order === null; i++) {
      var t = tables[i], th = t.querySelectorAll("thead th");
      var cells = t.querySelectorAll("tbody tr td:nth-child(2)");
      if (th.length < 2 || cells.length < 3) { continue; }
      var numeric = Array.prototype.every.call(cells, function (c) { return c.hasAttribute("data-sort"); });
      if (!numeric) { continue; }
      var read = function () {
        return Array.prototype.map.call(t.querySelectorAll("tbody tr td:nth-child(2)"),
          function (c) { return parseFloat(c.getAttribute("data-sort")); });
      };
      th[1].click();
      var up = read();
      th[1].click();
      var down = read();
      order = {up: up, down: down, aria: th[1].getAttribute("aria-sort")};
    }
  } catch (e) { window.__errors.push("sort: " + e); }
  var pre = document.createElement("pre");
  pre.id = "probe-status";
  pre.textContent = JSON.stringify({images: imgs.length, loaded: loaded, broken: broken, order: order,
    sections: document.querySelectorAll("main > section").length, errors: window.__errors});
  document.body.appendChild(pre);
});
</script>"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


def _open(page: Path, tmp_path: Path) -> tuple[dict, str]:
    exe = _chromium()
    if exe is None:
        pytest.skip("headless Chromium not found (install the chromium package)")
    probed = tmp_path / f"probed-{page.name}"
    text = page.read_text()
    probed.write_text(text.replace('<meta charset="utf-8">', '<meta charset="utf-8">' + PROBE, 1))
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=10000", "--dump-dom", probed.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    m = re.search(r'<pre id="probe-status">(.*?)</pre>', proc.stdout, flags=re.S)
    assert m is not None, f"probe did not run; rc={proc.returncode}, stderr tail:\n{proc.stderr[-2000:]}"
    return json.loads(html.unescape(m.group(1))), proc.stderr


def _console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def test_report_renders_in_chromium(report_html, tmp_path):
    status, stderr = _open(report_html, tmp_path)
    assert status["sections"] == 8
    assert status["images"] == 9
    assert status["loaded"] == status["images"] and status["broken"] == 0
    assert status["errors"] == []
    assert _console_lines(stderr) == []
    order = status["order"]
    assert order is not None and order["aria"] == "descending"
    assert order["up"] == sorted(order["up"]) and order["down"] == sorted(order["up"], reverse=True)
    assert order["up"] != order["down"]


def test_probe_catches_broken_image_script_error_and_outside_request(report_html, tmp_path):
    bad = tmp_path / "bad.html"
    text = report_html.read_text().replace(
        "</main>", '<img src="data:image/png;base64,AAAA" alt="broken">'
        '<img src="https://example.invalid/x.png" alt="outside"><script>undefinedFunction();</script></main>', 1)
    bad.write_text(text)
    status, stderr = _open(bad, tmp_path)
    assert status["broken"] == 2 and status["loaded"] == 9
    assert any("undefinedFunction" in e for e in status["errors"])
    assert any(e.startswith("csp: https://example.invalid") for e in status["errors"])
    assert any("Uncaught" in line for line in _console_lines(stderr))
