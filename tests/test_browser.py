"""A real browser drives the workshop apps: headless Chromium (Debian's package, with its
chromedriver) opens the Voilà app of notebook 03, moves the latent-noise slider and checks that the
audio player's source and the spectrogram change, switches the A/B player's row, and turns the
channel mixer to solo; then the app of notebook 04, whose rate dial it moves along the sweep and
switches to the predicted path.  Screenshots go to build/browser/.

Runs after the smoke notebooks (``make browser``, part of ``make test``): the apps then load notebook
03's and 04's smoke models from the checkpoint cache instead of training them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_lib.data import REPO_ROOT

pytestmark = pytest.mark.browser
SHOTS = REPO_ROOT / "build" / "browser"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(notebook: str):
    """Serve one workshop app with Voilà on 127.0.0.1, smoke preset; yields its URL, then stops it."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail("the browser test needs Debian's chromium and chromium-driver: `make setup` installs them "
                    "(apt-test.txt), or apt-get install chromium chromium-driver")
    port = _free_port()
    voila = Path(sys.executable).parent / "voila"
    env = {**os.environ, "COURSE_PRESET": "smoke"}
    logname = f"voila-test-{notebook[:2]}.log"
    log = open(SHOTS.parent / logname, "w") if SHOTS.parent.exists() else subprocess.DEVNULL
    proc = subprocess.Popen([str(voila), notebook, f"--port={port}", "--no-browser",
                             "--Voila.ip=127.0.0.1"], cwd=REPO_ROOT / "workshops", env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 90
        while True:
            try:  # the server listens (the app itself runs when a page is loaded)
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"Voilà did not start on {url} (exit code {proc.poll()})")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def app_url():
    """The Voilà app of notebook 03 (slider, A/B player, channel mixer)."""
    yield from _serve("03_slider_app.ipynb")


@pytest.fixture(scope="module")
def rate_app_url():
    """The Voilà app of notebook 04 (the rate dial)."""
    yield from _serve("04_rate_app.ipynb")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1400", "--mute-audio"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


def _wait(fn, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_the_noise_slider_changes_the_sound_and_the_spectrogram(app_url, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    SHOTS.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    browser.get(app_url)
    # the app executes in its kernel, then the widgets render: three players (slider, A/B, mixer)
    _wait(lambda: len(browser.find_elements(By.CSS_SELECTOR, "audio")) >= 3, 120, "the app's audio players")
    loaded = time.time() - t0
    browser.save_screenshot(str(SHOTS / "slider-before.png"))

    def slider_view():  # the first player and spectrogram on the page belong to the slider
        # read both in one script: the widget replaces its HTML on every render, so an element found
        # in one call may be gone by the next (a stale reference)
        return tuple(browser.execute_script(
            "const a = document.querySelectorAll('audio'), i = document.querySelectorAll(\"img[alt*='noise on']\");"
            "return [a.length ? a[0].src : '', i.length ? i[0].src : ''];"))

    def ab_audio():
        return browser.execute_script("const a = document.querySelectorAll('audio');"
                                      "return a.length > 1 ? a[1].src : '';")

    audio0, image0 = slider_view()
    assert audio0.startswith("data:audio/wav;base64,") and image0.startswith("data:image/png;base64,")
    def readout():
        return browser.execute_script("return document.querySelector('.widget-slider .widget-readout').textContent;")

    assert readout().strip() in ("0.00", "0.0")
    handle = browser.find_element(By.CSS_SELECTOR, ".widget-slider .noUi-handle")
    ActionChains(browser).click_and_hold(handle).move_by_offset(60, 0).release().perform()
    moved = time.time()
    _wait(lambda: slider_view()[0] not in ("", audio0), 30, "the player's source to change after the slider moved")
    answer = time.time() - moved
    audio1, image1 = slider_view()
    browser.save_screenshot(str(SHOTS / "slider-after.png"))
    assert audio1 != audio0 and audio1.startswith("data:audio/wav;base64,")
    assert image1 != image0, "the spectrogram did not change with the noise"
    assert float(readout()) > 0.1, f"the slider did not move (readout {readout()!r})"
    label = browser.execute_script("return [...document.querySelectorAll('b')].map(e => e.textContent)"
                                   ".find(t => t.includes('σ noise on')) || '';")
    assert label and "+ 0.00σ" not in label, label
    # the A/B player: choosing another row swaps its player too
    ab0 = ab_audio()
    # (the A/B player's row buttons are the ones beside "reference x": the slider and the mixer
    # have a "D(ẑ)" button too)
    row = browser.find_element(By.XPATH, "//div[contains(@class, 'widget-toggle-buttons')]"
                                         "[.//button[normalize-space()='reference x']]"
                                         "//button[normalize-space()='D(ẑ)']")
    row.click()
    _wait(lambda: ab_audio() not in ("", ab0), 15, "the A/B player to switch rows")
    browser.save_screenshot(str(SHOTS / "ab-player.png"))
    # the channel mixer (third player): "solo" keeps only the selected channels, and the sound changes
    def mixer_audio():
        return browser.execute_script("const a = document.querySelectorAll('audio');"
                                      "return a.length > 2 ? a[2].src : '';")

    mix0 = mixer_audio()
    assert mix0.startswith("data:audio/wav;base64,"), "the channel mixer shows no player"
    [b for b in browser.find_elements(By.CSS_SELECTOR, "button") if b.text.strip() == "solo"][0].click()
    _wait(lambda: mixer_audio() not in ("", mix0), 15, "the channel mixer to render solo")
    solo = browser.execute_script("return [...document.querySelectorAll('b')].map(e => e.textContent)"
                                  ".find(t => t.includes('only channels')) || '';")
    assert solo, "the mixer's label does not say which channels play alone"
    browser.save_screenshot(str(SHOTS / "channel-mixer.png"))
    (SHOTS / "timings.txt").write_text(f"app loaded in {loaded:.1f} s; slider answered in {answer:.2f} s\n")
    assert answer < 10, f"the slider took {answer:.1f} s to answer"


def test_the_rate_dial_walks_the_sweep(rate_app_url, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.get(rate_app_url)
    # the reference player, then the dial's player (its spectrogram and curve may come a moment later)
    _wait(lambda: len(browser.find_elements(By.CSS_SELECTOR, "audio")) >= 2, 120, "the app's audio players")

    def dial_view():  # the dial's player, its label and its curve, read in one script (see slider_view)
        return tuple(browser.execute_script(
            "const a = document.querySelectorAll('audio');"
            "const c = document.querySelectorAll(\"img[alt='along the sweep']\");"
            "const b = [...document.querySelectorAll('b')].map(e => e.textContent).filter(t => t.includes(' · D('));"
            "return [a.length > 1 ? a[a.length - 1].src : '', b.length ? b[0] : '', c.length ? c[0].src : ''];"))

    audio0, label0, curve0 = _wait(lambda: all(dial_view()) and dial_view(), 60,
                                   "the rate dial's player, label and curve")
    assert audio0.startswith("data:audio/wav;base64,") and curve0.startswith("data:image/png;base64,")
    n_audio = len(browser.find_elements(By.CSS_SELECTOR, "audio"))
    assert n_audio == 2, f"{n_audio} players: the reference and the dial should show once each"
    assert label0.startswith("target ") and label0.endswith("D(E(x))"), label0  # the lowest rate, the codec
    browser.save_screenshot(str(SHOTS / "rate-dial-before.png"))
    handle = browser.find_element(By.CSS_SELECTOR, ".widget-slider .noUi-handle")
    ActionChains(browser).click_and_hold(handle).move_by_offset(400, 0).release().perform()
    _wait(lambda: dial_view()[1] not in ("", label0), 30, "the dial to move to another rate point")
    audio1, label1, curve1 = dial_view()
    assert audio1 != audio0 and curve1 != curve0, "the dial moved but its player or curve did not"
    assert label1.startswith("plain"), f"dragged to the end, the dial shows {label1!r}"
    [b for b in browser.find_elements(By.CSS_SELECTOR, "button") if b.text.strip() == "D(ẑ)"][0].click()
    _wait(lambda: dial_view()[1].endswith("D(ẑ)"), 15, "the dial to switch to the predicted path")
    assert dial_view()[0] != audio1
    browser.save_screenshot(str(SHOTS / "rate-dial-after.png"))
