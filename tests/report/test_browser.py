"""The report as a person sees it: opened in headless Chromium (Debian's chromium and
chromedriver, installed by .ci/run), every figure loads, no console error, a screenshot kept."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tuner.report import FIGURES, build_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# The machine's network is closed: without these, Chromium keeps trying to reach Google.
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)  # fmt: skip


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium and chromium-driver (.ci/run does)")
        pytest.skip("chromium/chromedriver not installed here (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _open(browser, html: Path, screenshot: Path) -> tuple[list, list]:
    browser.get(html.as_uri())
    images = browser.execute_script("return Array.from(document.images).map(i => [i.id, i.complete, i.naturalWidth, i.naturalHeight])")
    # A full-page screenshot: the window as tall as the page.
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 50, 16000))
    browser.save_screenshot(str(screenshot))
    browser.set_window_size(1280, 1000)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    return images, errors


def test_report_of_a_real_search_loads_in_chromium(browser, planted_run, tmp_path):
    result = build_report(planted_run, tmp_path / "report")
    images, errors = _open(browser, result.html, tmp_path / "screenshot.png")
    print(f"screenshot: {tmp_path / 'screenshot.png'}")
    assert not errors, errors
    assert {i[0] for i in images} == {f"fig-{k}" for k in result.pngs}
    assert all(complete and w > 100 and h > 100 for _, complete, w, h in images), images
    assert "tuner report: planted" in browser.title
    assert (tmp_path / "screenshot.png").stat().st_size > 20_000


def test_report_of_1000_trials_loads_every_figure_in_chromium(browser, report_of_1000, tmp_path):
    result = report_of_1000
    images, errors = _open(browser, result.html, tmp_path / "screenshot.png")
    print(f"screenshot: {tmp_path / 'screenshot.png'}")
    assert not errors, errors
    assert sorted(i[0] for i in images) == sorted(f"fig-{f.key}" for f in FIGURES)
    assert all(complete and w > 100 and h > 100 for _, complete, w, h in images), images
    text = browser.find_element("tag name", "body").text
    assert "class <0> & co" in text or "class <9> & co" in text  # escaped in HTML, shown as written
