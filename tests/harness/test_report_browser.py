"""report.html in a real browser (Debian's chromium, headless): images decode, in-page links resolve, no console
errors, and the summary and forest plot are in the first viewport. Skipped, with the reason, without chromium."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bnclaims.harness.report import browser
from plugin_fakes import run

pytest_plugins = ["pytester"]

needs_chromium = pytest.mark.skipif(browser.find_chromium() is None,
                                    reason="chromium not found: install Debian's chromium (apt-get install "
                                           "chromium; .ci/run does) to run the browser test")


@needs_chromium
def test_report_page_in_a_real_browser(fake, claims_ctx):
    run(fake, "--claims-report", "rep")
    page = fake.path / "rep" / "report.html"
    result = browser.check_page(page)
    assert browser.problems(result) == []
    assert result["images"] >= 3 and result["links"] >= 4          # the forest plot, C8.a's figures; cards, index
    shot = browser.screenshot(page, page.with_name("report-screenshot.png"))   # saved next to the report
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = Path(claims_ctx.report_dir) / "browser-test"       # and kept beside the session's own report
    keep.mkdir(parents=True, exist_ok=True)
    for f in (page, shot):
        shutil.copyfile(f, keep / f.name)


@needs_chromium
def test_the_browser_check_sees_a_broken_page(tmp_path):
    """The check can fail: a broken image, a dangling link and a script error are each reported."""
    page = tmp_path / "bad.html"
    page.write_text('<!doctype html><html><head><meta charset="utf-8"></head><body>'
                    '<img src="data:image/png;base64,AAAA" alt="broken"><a href="#nowhere">x</a>'
                    '<script>undefinedFunction()</script></body></html>')
    found = browser.problems(browser.check_page(page))
    assert any("image does not decode: broken" in p for p in found)
    assert any("#nowhere" in p for p in found)
    assert any("undefinedFunction" in p for p in found)
    assert any("#summary does not start in the first" in p for p in found)


@needs_chromium
def test_a_designed_maps_heat_map_decodes_on_the_first_screen(tmp_path):
    from test_designed_maps import designed_report
    page = designed_report(tmp_path)["html"]
    result = browser.check_page(page)
    assert browser.problems(result) == []
    assert result["images"] >= 2                      # the thumbnail on the first screen, the full heat map below
    probe = browser.check_page(page, first=("summary", "thumb-map-M9.a"))
    assert probe["first_viewport"] == {"summary": True, "thumb-map-M9.a": True}
    browser.screenshot(page, tmp_path / "designed-map-first-screen.png")
