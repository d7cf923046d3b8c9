"""The live page at ``/`` of ``plato-sgl api``, in headless Chromium (Debian's chromium and
chromium-driver, installed by ``scripts/test.sh``) against the real tiny-model server: a question
streams into its plan graph, its lanes and its figures; a plain answer's finish is marked; bad input,
a timeout and an API that is gone each show their message; closing the page aborts the question."""

from __future__ import annotations

import json
import os

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from plato_sgl.core.grammar import literal_regex
from tests.browser import CHROMEDRIVER, chromium_options
from tests.helpers import api_served
from tests.polling import busy, until

PLAN = "Parts: 3\n1. Wings.[]\n2. Muscles.[]\n3. Flight.[1]\n"
QUESTION = "How do bees fly?"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not os.path.exists(CHROMEDRIVER):
        pytest.fail(f"{CHROMEDRIVER} is missing: `bash scripts/test.sh` installs Debian's chromium and chromium-driver")
    driver = webdriver.Chrome(
        service=Service(CHROMEDRIVER), options=chromium_options(tmp_path_factory.mktemp("chromium"))
    )
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page_url(backend):
    with api_served(backend) as url:
        yield url


# Records every state an element of the page shows, so a test sees what was drawn while it ran.
WATCH = """
window.seen = new Set();
new MutationObserver(() => document.querySelectorAll("[data-state]").forEach((e) => window.seen.add(e.dataset.state)))
  .observe(document.body, { subtree: true, childList: true, attributes: true });
"""


def ask(browser, url: str, question: str, method: str = "plato", options: dict | None = None, compare=False) -> None:
    browser.get(url)
    browser.execute_script(WATCH)
    browser.find_element(By.ID, "question").send_keys(question)
    Select(browser.find_element(By.ID, "method")).select_by_value(method)
    if options is not None:
        browser.execute_script("document.getElementById('options').value = arguments[0]", json.dumps(options))
    if compare:
        browser.find_element(By.ID, "compare").click()
    browser.find_element(By.ID, "go").click()


def finished(browser, within: float = 120) -> str:
    """The page's state once the question is done or failed."""
    return WebDriverWait(browser, within, poll_frequency=0.1).until(
        lambda b: b.execute_script("return document.body.dataset.state")
    )


def states(browser, selector: str) -> dict[str, str]:
    """Each element's state by its node id or lane, read in one go (the page redraws as events arrive)."""
    return browser.execute_script(
        "return Object.fromEntries([...document.querySelectorAll(arguments[0])]"
        ".map((e) => [e.dataset.node || e.dataset.lane, e.dataset.state]))",
        selector,
    )


def seen(browser) -> set[str]:
    return set(browser.execute_script("return [...window.seen]"))


def message(browser) -> str:
    return browser.find_element(By.ID, "message").text


FORCED = {"plan_regex": literal_regex(PLAN), "node_max_tokens": 48, "ignore_eos": True, "frequency_penalty": 0.0}
LONG = {**FORCED, "node_max_tokens": 3000, "answer_max_tokens": 9000}  # nodes that decode for tens of seconds


def test_a_question_streams_into_its_plan_graph_lanes_and_figures(browser, page_url):
    ask(browser, page_url, QUESTION, options=FORCED)
    assert finished(browser) == "done", message(browser)
    assert {"waiting", "decoding", "done"} <= seen(browser)  # drawn as it went, not only at the end
    assert states(browser, "g.node") == {"1": "done", "2": "done", "3": "done"}
    assert len(browser.find_elements(By.CSS_SELECTOR, "#graph path[marker-end]")) == 1  # 3 needs 1
    lanes = states(browser, "g.lane")
    assert lanes == {"plan": "done", "node-1": "done", "node-2": "done", "node-3": "done"}
    assert browser.find_element(By.ID, "answer").text.strip()
    figures = browser.find_element(By.ID, "figures").text
    for name in (
        "latency",
        "first answer token",
        "tokens decoded",
        "uncached prompt tokens",
        "parallel degree",
        "route",
    ):
        assert name in figures


def test_a_plain_answer_streams_in_its_own_lane(browser, page_url):
    ask(browser, page_url, QUESTION, method="ar", options={"max_tokens": 24, "ignore_eos": True})
    assert finished(browser) == "done", message(browser)
    assert states(browser, "g.lane") == {"answer": "done"}
    assert "one plain request" in browser.find_element(By.ID, "graph").text


def test_compare_marks_the_plain_answer_s_finish_on_the_same_timeline(browser, page_url):
    ask(browser, page_url, QUESTION, options={**FORCED, "max_tokens": 24}, compare=True)
    assert finished(browser) == "done", message(browser)
    assert browser.find_element(By.ID, "plain-finish")
    assert states(browser, "g.lane")["plain"] == "done"
    assert "a plain answer" in browser.find_element(By.ID, "verdict").text
    assert "plain answer (ar)" in browser.find_element(By.ID, "figures").text


def test_two_tabs_ask_at_once_on_the_one_server(browser, page_url):
    first = browser.current_window_handle
    ask(browser, page_url, QUESTION, options=FORCED)
    browser.switch_to.new_window("tab")
    ask(browser, page_url, "Why is the sky blue?", method="ar", options={"max_tokens": 24, "ignore_eos": True})
    try:
        assert finished(browser) == "done", message(browser)
        browser.switch_to.window(first)
        assert finished(browser) == "done", message(browser)
        assert states(browser, "g.node") == {"1": "done", "2": "done", "3": "done"}
    finally:
        for handle in [h for h in browser.window_handles if h != first]:
            browser.switch_to.window(handle)
            browser.close()
        browser.switch_to.window(first)


@pytest.mark.parametrize(
    "question, options, expected",
    [
        ("   ", {}, "Type a question first."),
        (QUESTION, {"max_nodes": 0}, "max_nodes must be a positive integer"),
        (QUESTION, {"no_such_option": 1}, "unknown field(s): no_such_option"),
        (QUESTION, "not json", "the options are not valid JSON"),
    ],
)
def test_bad_input_shows_its_message(browser, page_url, question, options, expected):
    browser.get(page_url)
    browser.find_element(By.ID, "question").send_keys(question)
    text = options if isinstance(options, str) else json.dumps(options)
    browser.execute_script("document.getElementById('options').value = arguments[0]", text)
    browser.find_element(By.ID, "go").click()
    assert WebDriverWait(browser, 30, poll_frequency=0.1).until(lambda b: expected in message(b))


def test_a_timeout_shows_its_message(browser, page_url):
    ask(browser, page_url, QUESTION, options={**LONG, "timeout": 2})
    assert finished(browser) == "failed"
    assert "timed out" in message(browser)


def test_an_api_that_is_gone_shows_its_message(browser, backend):
    with api_served(backend) as url:
        browser.get(url)
    browser.find_element(By.ID, "question").send_keys(QUESTION)
    browser.find_element(By.ID, "go").click()
    assert WebDriverWait(browser, 30, poll_frequency=0.1).until(lambda b: "cannot reach plato-sgl api" in message(b))


def test_closing_the_page_mid_answer_aborts_the_question_s_requests(browser, page_url, tiny_server):
    assert until(lambda: busy(tiny_server.url) == 0, within=60)  # nothing left over from another test
    ask(browser, page_url, QUESTION, options=LONG)
    assert WebDriverWait(browser, 60, poll_frequency=0.05).until(lambda b: "decoding" in states(b, "g.node").values())
    assert busy(tiny_server.url) > 0
    browser.get("about:blank")  # the page goes away, and its request with it
    assert until(lambda: busy(tiny_server.url) == 0, within=30)
