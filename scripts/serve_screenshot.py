"""docs/serve.png: the page of `makemore-pl serve` in Debian's headless Chromium, names sampled and one scored.

    python scripts/serve_screenshot.py <ckpt> [--out docs/serve.png] [--name emma] [--label fr]

A model of running text instead continues ``--prompt`` and colours ``--text`` by surprisal
(docs/serve_text.png: ``--out docs/serve_text.png``).

It starts the server on a free port of 127.0.0.1, fills the page's form as a person would, and
takes the screenshot (selenium, from the test extra; apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from makemore_pl.serve.process import serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ckpt", type=Path, help="The checkpoint to serve.")
    parser.add_argument("--out", type=Path, default=Path("docs/serve.png"))
    parser.add_argument("--name", default="emma", help="The name to score.")
    parser.add_argument("--label", help="A labelled model's label to sample.")
    parser.add_argument("--seed", default="7")
    parser.add_argument("--prompt", default="ROMEO:", help="A text model's prompt to continue.")
    parser.add_argument("--length", default="200", help="How many characters to continue it by.")
    parser.add_argument(
        "--text",
        default="But soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n",
        help="The text a text model colours by surprisal.",
    )
    args = parser.parse_args()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,820", "--hide-scrollbars"):
        options.add_argument(argument)
    with serving(args.ckpt) as url:
        browser = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
        try:
            wait = WebDriverWait(browser, 60)
            browser.get(f"{url}/ui/")
            wait.until(lambda b: "·" in b.find_element(By.ID, "model").text)  # /info has answered
            browser.find_element(By.ID, "seed").send_keys(args.seed)
            if "text-model" in browser.find_element(By.TAG_NAME, "body").get_attribute("class"):
                continue_and_colour(browser, wait, args)
            else:
                sample_and_score(browser, wait, args)
            browser.save_screenshot(str(args.out))
        finally:
            browser.quit()
    print(f"wrote {args.out}")


def sample_and_score(browser: webdriver.Chrome, wait: WebDriverWait, args: argparse.Namespace) -> None:
    if args.label:
        Select(browser.find_element(By.ID, "label")).select_by_value(args.label)
    browser.find_element(By.ID, "sample-button").click()
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#words li"))
    browser.find_element(By.ID, "score-input").send_keys(args.name)
    browser.find_element(By.ID, "score-button").click()
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#chars .char"))


def continue_and_colour(browser: webdriver.Chrome, wait: WebDriverWait, args: argparse.Namespace) -> None:
    browser.find_element(By.ID, "prompt").send_keys(args.prompt)
    browser.find_element(By.ID, "length").send_keys(args.length)
    browser.find_element(By.ID, "sample-button").click()
    # The button comes back when the stream has ended.
    wait.until(
        lambda b: b.find_element(By.ID, "continuation").text and b.find_element(By.ID, "sample-button").is_enabled()
    )
    browser.find_element(By.ID, "surprisal-input").send_keys(args.text)
    browser.find_element(By.ID, "surprisal-button").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#surprisal-text span")) == len(args.text))


if __name__ == "__main__":
    main()
