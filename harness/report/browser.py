"""report.html in a real browser: Debian's chromium, headless, with no network and a throwaway profile.

check_page(path) opens a copy of the page with a small script that runs after load and records: images that do
not decode (naturalWidth 0), in-page links whose target id does not exist, script and resource errors, and
whether the summary and the forest plot start inside the first viewport. The browser's own console log (stderr)
is read as well. screenshot(path, out) saves the first viewport as PNG.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

VIEWPORT = (1280, 900)
# Flags for a machine with a closed network: without the background-networking ones chromium keeps trying
# (and failing) to reach its update and sync services.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--disable-extensions", "--mute-audio")
FIRST_SCREEN = ("summary", "forest")          # element ids that must start in the first viewport
OPTIONAL = ("forest",)                        # absent when no hypothesis has an effect to plot (smoke, identities)

_PROBE = """<script>
window.__bnclaimsErrors = [];
window.addEventListener('error', function (ev) {
  var t = ev.target;
  window.__bnclaimsErrors.push(t && t !== window && (t.src || t.href)
    ? 'failed to load ' + String(t.src || t.href).slice(0, 80) : String(ev.message));
}, true);
(function () { var orig = console.error; console.error = function () {
  window.__bnclaimsErrors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
  return orig.apply(console, arguments); }; })();
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var links = Array.prototype.slice.call(document.querySelectorAll('a[href^="#"]'));
  var vh = window.innerHeight, first = {};
  %FIRST%.forEach(function (id) {
    var el = document.getElementById(id);
    first[id] = !el ? null : (el.getBoundingClientRect().top >= 0 && el.getBoundingClientRect().top < vh);
  });
  var out = {images: imgs.length,
             broken: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                         .map(function (i) { return (i.alt || i.src).slice(0, 80); }),
             links: links.length,
             dangling: links.filter(function (a) {
               return !document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1)));
             }).map(function (a) { return a.getAttribute('href'); }),
             errors: window.__bnclaimsErrors, viewport: [window.innerWidth, vh], first_viewport: first};
  var pre = document.createElement('pre');
  pre.id = '__bnclaims_check';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


class BrowserError(RuntimeError):
    """chromium ran but gave no usable answer."""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("chromium not found (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="bnclaims-chromium-") as profile:
        return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                              timeout=timeout)


def check_page(path, viewport=VIEWPORT, timeout: float = 120.0, first=FIRST_SCREEN) -> dict:
    """Open report.html headless and return what the probe found (see the module docstring), with
    "console": the browser's console lines from its log. first: the element ids that must start in the first
    viewport."""
    page = Path(path).resolve()
    text = page.read_text()
    probe = _PROBE.replace("%FIRST%", json.dumps(list(first)))
    head = text.find("<head>")
    if head < 0:
        raise BrowserError(f"{page}: no <head> to put the probe in")
    with tempfile.TemporaryDirectory(prefix="bnclaims-page-") as tmp:
        probed = Path(tmp) / page.name                 # beside nothing: the page must be self-contained
        probed.write_text(text[:head + 6] + probe + text[head + 6:])
        proc = _run([f"--window-size={viewport[0]},{viewport[1]}", "--virtual-time-budget=10000",
                     "--enable-logging=stderr", "--v=0", "--dump-dom", probed.as_uri()], timeout)
    m = re.search(r'<pre id="__bnclaims_check">(.*?)</pre>', proc.stdout, re.S)
    if m is None:
        raise BrowserError(f"chromium returned no probe result (exit {proc.returncode}): {proc.stderr[-800:]}")
    import html
    out = json.loads(html.unescape(m.group(1)))
    out["console"] = [ln.strip() for ln in proc.stderr.splitlines() if re.search(r":CONSOLE[(:]\d+", ln)]
    return out


def problems(result: dict) -> list[str]:
    """What a check_page result says is wrong (empty: the page passes)."""
    out = [f"image does not decode: {b}" for b in result["broken"]]
    out += [f"in-page link to a missing id: {d}" for d in result["dangling"]]
    out += [f"page error: {e}" for e in result["errors"]]
    out += [f"console: {c}" for c in result["console"]]
    out += [f"#{k} does not start in the first {result['viewport'][0]}x{result['viewport'][1]} viewport"
            for k, ok in result["first_viewport"].items() if ok is False or (ok is None and k not in OPTIONAL)]
    return out


def screenshot(path, out, viewport=VIEWPORT, timeout: float = 120.0) -> Path:
    """Save the first viewport of the page as a PNG at out."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = _run([f"--window-size={viewport[0]},{viewport[1]}", "--virtual-time-budget=10000",
                 f"--screenshot={out}", Path(path).resolve().as_uri()], timeout)
    if not out.exists() or out.stat().st_size == 0:
        raise BrowserError(f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-800:]}")
    return out
