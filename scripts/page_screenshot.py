"""Screenshot of the live page after one question, for the README: headless Chromium on a running
``plato-sgl api``.

    .venv/bin/python scripts/page_screenshot.py --url http://127.0.0.1:8000 --out docs/page.png
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's tests/ package
from tests.browser import CHROMEDRIVER, chromium_options  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--question", default="How can I improve my time management skills?")
    parser.add_argument("--method", default="plato")
    parser.add_argument("--no-compare", dest="compare", action="store_false")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the answers")
    parser.add_argument("--out", type=Path, default=Path("docs/page.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as profile:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=chromium_options(Path(profile)))
        try:
            driver.get(args.url)
            driver.find_element(By.ID, "question").send_keys(args.question)
            Select(driver.find_element(By.ID, "method")).select_by_value(args.method)
            if args.compare:
                driver.find_element(By.ID, "compare").click()
            driver.find_element(By.ID, "go").click()
            body = driver.find_element(By.TAG_NAME, "body")
            WebDriverWait(driver, args.timeout, poll_frequency=0.5).until(lambda d: body.get_attribute("data-state"))
            state = body.get_attribute("data-state")
            size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "clip": clip})
            args.out.write_bytes(base64.b64decode(shot["data"]))  # the whole page, figures included
        finally:
            driver.quit()
    print(f"{args.out}: the page after the question ({state})")
    return 0 if state == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
