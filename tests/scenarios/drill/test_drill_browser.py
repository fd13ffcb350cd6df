"""The drill dashboard in real headless Chromium (Debian's chromium + chromium-driver, via Selenium).

A trainee opens the dashboard of a stale-feed drill, sees the page appear, acknowledges it, halts
the market maker and reads the score: mitigation time and damage avoided.  Screenshots go to
``$MARKETDRILL_SCREENSHOTS`` when set (docs/images is made this way), else to the test's tmp dir.
"""

import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from scenarios.drill.live import Drill
from scenarios.drill.server import DrillServer
from scenarios.spec import load_scenario

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[browser]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCENARIO = load_scenario(Path(__file__).parent / "stale_drill.toml")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)),
                       reason="Debian packages chromium and chromium-driver are not installed "
                              "(make system-deps installs them when run as root)"),
]


@pytest.fixture()
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="marketdrill-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1366,900", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # the system chromedriver, never one Selenium Manager would download
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture()
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("MARKETDRILL_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_trainee_acknowledges_the_page_halts_the_market_maker_and_reads_the_score(browser, shots):
    drill = Drill(SCENARIO, speed=4.0)
    server = DrillServer(drill, port=0).start()
    runner = threading.Thread(target=drill.run, daemon=True)
    try:
        browser.get(server.url)  # the dashboard first (Chromium takes seconds to start), then the market
        wait = WebDriverWait(browser, 60, poll_frequency=0.1)
        trainee = wait.until(ec.presence_of_element_located((By.ID, "trainee")))
        trainee.clear()
        trainee.send_keys("alice\t")  # the name is kept when the field loses focus
        runner.start()

        page = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "li.page[data-page-id]")))
        # the game master pauses the clock so a slow CI machine still acts before the drill ends
        drill.command({"command": "pause"})
        assert "FillTooGood" in page.text and "MM1" in page.text
        browser.save_screenshot(str(shots / "drill-dashboard.png"))

        page.find_element(By.CSS_SELECTOR, "button.ack").click()
        wait.until(lambda d: "acked by alice" in d.find_element(By.CSS_SELECTOR, "li.page[data-page-id]").text)

        halt = browser.find_element(By.CSS_SELECTOR,
                                    'button[data-action="halt_strategy"][data-firm="MMFIRM"][data-strategy="MM1"]')
        halt.click()
        wait.until(lambda d: "halt strategy MMFIRM/MM1" in d.find_element(By.ID, "action-status").text)
        wait.until(lambda d: any(a.action == "halt_strategy" and a.ok for a in drill.actions))
        assert str(drill.run_.world.engines["MMFIRM"].risk.state("MM1")) == "halted"
        drill.command({"command": "resume"})

        score = WebDriverWait(browser, 120, poll_frequency=0.2).until(
            lambda d: d.find_element(By.ID, "score") if drill.score and d.find_element(By.ID, "score").text.strip()
            and "mitigat" in d.find_element(By.ID, "score").text.lower() else False)
        text = score.text
        browser.execute_script("arguments[0].scrollIntoView()", score)
        browser.save_screenshot(str(shots / "drill-score.png"))
        result = drill.score
        assert result["mitigation"] == "alice: halt_strategy MMFIRM/MM1"
        assert f"{result['time_to_mitigation_s']:.1f}" in text  # the mitigation time is shown
        avoided = result["damage_avoided"]["orders"]
        assert avoided > 0 and f"{avoided:,}" in text  # fewer orders reached the venue than with nobody acting
        assert "alice" in browser.find_element(By.ID, "changes").text  # What Changed names the trainee
    finally:
        drill.finished.wait(120)
        server.stop()
