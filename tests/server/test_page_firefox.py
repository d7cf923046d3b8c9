"""The live page in headless Firefox (Debian's firefox-esr, driven over Marionette by Mozilla's
``marionette_driver``; installed by ``scripts/test.sh``), against the real tiny-model server: a
question streams into its plan graph, lanes and figures, and bad input shows its message. The
Chromium tests (``test_page.py``) cover the rest; these show the page works in Firefox too."""

from __future__ import annotations

import json
import os
import time

import pytest
from marionette_driver.by import By
from marionette_driver.marionette import Marionette

from plato_sgl.core.grammar import literal_regex
from tests.helpers import api_served

FIREFOX = "/usr/bin/firefox-esr"
PLAN = "Parts: 3\n1. Wings.[]\n2. Muscles.[]\n3. Flight.[1]\n"
FORCED = {"plan_regex": literal_regex(PLAN), "node_max_tokens": 48, "ignore_eos": True, "frequency_penalty": 0.0}


@pytest.fixture(scope="module")
def firefox(tmp_path_factory):
    if not os.path.exists(FIREFOX):
        pytest.fail(f"{FIREFOX} is missing: `bash scripts/test.sh` installs Debian's firefox-esr")
    client = Marionette(
        bin=FIREFOX, port=0, headless=True, workspace=str(tmp_path_factory.mktemp("firefox")), gecko_log="-"
    )
    client.start_session()
    client.set_window_rect(width=1400, height=1100)
    yield client
    client.cleanup()


@pytest.fixture(scope="module")
def page_url(backend):
    with api_served(backend) as url:
        yield url


def run(firefox, script: str, *args):
    """``script`` in the page's own window (no sandbox), with ``arguments``."""
    return firefox.execute_script(script, script_args=args, sandbox=None)


def wait_for(firefox, script: str, *args, within: float = 120):
    """The first truthy value of ``script`` within ``within`` seconds, or None."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        value = run(firefox, script, *args)
        if value:
            return value
        time.sleep(0.1)
    return None


def ask(firefox, url: str, question: str, options: dict | str) -> None:
    firefox.navigate(url)
    firefox.find_element(By.ID, "question").send_keys(question)
    firefox.find_element(By.CSS_SELECTOR, "#method option[value=plato]").click()
    text = options if isinstance(options, str) else json.dumps(options)
    run(firefox, "document.getElementById('options').value = arguments[0]", text)
    firefox.find_element(By.ID, "go").click()


def states(firefox, selector: str) -> dict[str, str]:
    return run(
        firefox,
        "return Object.fromEntries([...document.querySelectorAll(arguments[0])]"
        ".map((e) => [e.dataset.node || e.dataset.lane, e.dataset.state]))",
        selector,
    )


def test_a_question_streams_into_its_plan_graph_lanes_and_figures(firefox, page_url):
    ask(firefox, page_url, "How do bees fly?", FORCED)
    state = wait_for(firefox, "return document.body.dataset.state")
    assert state == "done", run(firefox, "return document.getElementById('message').textContent")
    assert states(firefox, "g.node") == {"1": "done", "2": "done", "3": "done"}
    assert states(firefox, "g.lane") == {"plan": "done", "node-1": "done", "node-2": "done", "node-3": "done"}
    assert len(firefox.find_elements(By.CSS_SELECTOR, "#graph path[marker-end]")) == 1  # 3 needs 1
    assert firefox.find_element(By.ID, "answer").text.strip()
    figures = firefox.find_element(By.ID, "figures").text
    assert all(name in figures for name in ("latency", "first answer token", "uncached prompt tokens", "route"))


def test_bad_input_shows_its_message(firefox, page_url):
    ask(firefox, page_url, "How do bees fly?", {"max_nodes": 0})
    expected = "max_nodes must be a positive integer"
    assert wait_for(
        firefox, "return document.getElementById('message').textContent.includes(arguments[0])", expected, within=30
    )
