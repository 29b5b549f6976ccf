"""The report page (`xeonsweep report --html FILE`): one self-contained HTML file, drawn by a
real browser (Debian's chromium, headless) with no console error and no request leaving the file."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT
from tests.report_store import EPYC, XEON, write_store
from xeonsweep.report import page, tables
from xeonsweep.store import results

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Where the screenshot goes: a temp folder, or the docs when asked (XEONSWEEP_SCREENSHOT=docs/report-page.png).
SCREENSHOT = os.environ.get("XEONSWEEP_SCREENSHOT")
# Per machine and model: SPS, speedup, latency against throughput; one timeline; latency against load per machine.
CHARTS = 3 * 2 + 1 + 2


PRICES = f'"{EPYC}": 0.09\nc7i.2xlarge: {{per_hour: 0.36, machine: "{XEON}"}}\n'


@pytest.fixture
def store(tmp_path):
    return write_store(tmp_path / "store")


def rendered(store) -> str:
    frame = tables.load(str(store))
    summary = tables.summarize(frame)
    return page.render(summary, frame, str(store), tables.notes(summary, frame))


def test_the_page_inlines_plotly_once_and_draws_every_chart_from_it(store):
    from plotly.offline import get_plotlyjs

    text = rendered(store)
    assert text.count(get_plotlyjs()[:200]) == 1  # one copy of plotly.js for every figure
    assert not re.search(r"<script[^>]*\bsrc=", text) and "<link" not in text  # nothing loaded from elsewhere
    assert text.count('class="plotly-graph-div"') == CHARTS
    assert "tie A" in text and "tie B" in text and "Pareto front" in text and "SLO 100 ms" in text
    assert 'id="rows-table"' in text and "killed by SIGSEGV" in text


def test_the_pareto_front_keeps_configs_nothing_beats_on_both_axes():
    points = pd.DataFrame({"config": list("abcde"), "sps_median": [100, 101, 150, 152, 200],
                           "latency_p99_ms": [12, 90, 8, 60, 45]})
    assert list(page.pareto_front(points)["config"]) == ["c", "e"]


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    flags = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000")
    for flag in flags:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def requested_urls(driver) -> list[str]:
    """Every URL the page asked for (the DevTools Network events in the performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def full_page_screenshot(driver, path: Path) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, height + 200)  # the window's frame takes some of its height
    driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    from PIL import Image

    with Image.open(path) as shot:  # 256 colours: a third of the bytes, the same to read
        shot.convert("RGB").quantize(256).save(path, optimize=True)


@pytest.mark.slow
def test_chromium_draws_the_page_offline_with_no_console_error(store, tmp_path):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("Debian's chromium and chromedriver are not installed (make test installs them: "
                    "scripts/install-system-packages.sh --test)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    html = tmp_path / "page" / "report.html"  # its folder is made
    price_file = tmp_path / "prices.yaml"
    price_file.write_text(PRICES)
    cli = subprocess.run([sys.executable, "-m", "xeonsweep", "report", str(store), "--out", str(tmp_path / "out"),
                          "--html", str(html), "--prices", str(price_file)], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert cli.returncode == 0, cli.stderr
    assert f"wrote {html}" in cli.stdout
    driver = browser()
    try:
        driver.get(html.as_uri())
        charts = driver.find_elements(By.CSS_SELECTOR, "div.plotly-graph-div")
        assert len(charts) == CHARTS + 1  # and the cost per million inferences
        assert "c7i.2xlarge" in driver.find_element(By.ID, "machines-table").text
        WebDriverWait(driver, 60).until(
            lambda d: all(c.find_elements(By.CSS_SELECTOR, "svg.main-svg") for c in charts))
        assert all(c.find_elements(By.CSS_SELECTOR, "g.trace") for c in charts)  # each has data drawn, not only axes
        assert driver.get_log("browser") == []  # no error, no warning in the console
        assert [u for u in requested_urls(driver) if not u.startswith(("file:", "data:", "blob:"))] == []
        box = driver.find_element(By.CSS_SELECTOR, "input.filter")
        box.send_keys("skipped")
        time.sleep(0.2)
        shown = [r for r in driver.find_elements(By.CSS_SELECTOR, "#rows-table tbody tr") if r.is_displayed()]
        assert len(shown) == 1 and "IPEX bf16 needs AVX-512" in shown[0].text
        driver.execute_script("arguments[0].value = ''; arguments[0].dispatchEvent(new Event('input'))", box)
        time.sleep(0.2)  # an emptied box shows every row again
        rows = driver.find_elements(By.CSS_SELECTOR, "#rows-table tbody tr")
        assert len(rows) == len(results.load(store)) and all(r.is_displayed() for r in rows)
        shot = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "report-page.png"
        full_page_screenshot(driver, shot if shot.is_absolute() else ROOT / shot)
    finally:
        driver.quit()


@pytest.mark.parametrize("where", ["a file as its folder", "a folder"])
def test_an_html_path_that_cannot_be_written_gets_one_line(store, tmp_path, capsys, where):
    blocker = tmp_path / "plain-file"
    blocker.write_text("")
    html = blocker / "report.html" if where == "a file as its folder" else tmp_path
    code = tables.main([str(store), "--out", str(tmp_path / "out"), "--html", str(html)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"xeonsweep: --html {html} cannot be written: ") and "valid: a file path in a folder" in err
    assert not (tmp_path / "out" / "report.md").exists()
