"""Shared fixtures: one real SGLang server on the tiny model per test session, always stopped.

``tiny_server``/``backend`` start lazily with the first test that asks for them; ``smollm_server``
(a real small instruct model) only with the smoke tests. Tests that use any of them are marked
``server`` automatically, so ``pytest -m "not server"`` runs the quick tests alone.
"""

from __future__ import annotations

import pytest

from plato_sgl.serving import LocalServer

_SERVER_FIXTURES = {"tiny_server", "backend", "smollm_server"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "server: needs a real SGLang server (started by the session fixture)")
    config.addinivalue_line("markers", "smoke: runs a real small instruct model")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)


@pytest.fixture(scope="session")
def tiny_server():
    """A LocalServer on ``tiny-random`` (random weights: tests mechanics, not answers)."""
    with LocalServer("tiny-random") as server:
        yield server


@pytest.fixture(scope="session")
def backend(tiny_server):
    """The tiny server's ``sgl.RuntimeEndpoint``, with the ChatML template chosen explicitly."""
    assert tiny_server.chat_template == "chatml"
    return tiny_server.endpoint()


@pytest.fixture(scope="session")
def smollm_server():
    """A LocalServer on SmolLM2-135M-Instruct (built from its PyPI wheel on first use)."""
    with LocalServer("smollm2-135m") as server:
        yield server
