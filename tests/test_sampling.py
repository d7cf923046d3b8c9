"""Sampling settings (``top_p``, ``top_k``, ``stop``) reach SGLang, from ``run`` and the CLI.

Against the tiny random model: its text is noise, but noise that is deterministic under greedy
decoding, which is what these tests compare against.
"""

from __future__ import annotations

import pytest

import plato_sgl
from plato_sgl.cli import build_parser, _options
from plato_sgl.grammar import literal_regex
from plato_sgl.options import Options


def test_sampling_settings_are_the_programs_run_defaults():
    assert Options(top_p=0.9, top_k=40, stop="END").sampling() == {"temperature": 0.0, "top_p": 0.9, "top_k": 40, "stop": ["END"]}
    assert Options().sampling()["stop"] is None  # SGLang's own default: no stop string


def test_the_cli_passes_sampling_settings_as_options():
    args = build_parser().parse_args(["ask", "q?", "--top-p", "0.5", "--top-k", "3", "--stop", "A", "--stop", "B"])
    assert {k: v for k, v in _options(args).items() if k in ("top_p", "top_k", "stop")} == {"top_p": 0.5, "top_k": 3, "stop": ["A", "B"]}


@pytest.mark.server
def test_top_k_1_samples_the_greedy_text_at_any_temperature(backend):
    greedy = plato_sgl.run("How do bees make honey? (sampling)", method="ar", backend=backend, max_tokens=24).answer
    hot = [plato_sgl.run("How do bees make honey? (sampling)", method="ar", backend=backend, max_tokens=24, temperature=1.5, top_k=1).answer
           for _ in range(2)]
    assert hot == [greedy, greedy]


@pytest.mark.server
def test_a_stop_string_ends_a_plain_answer_where_it_first_appears(smollm_server):
    # SmolLM2 (a real model, small): the tiny random model answers this prompt with blank lines only
    backend = smollm_server.endpoint(warm_up=False)
    question = "Name three colours. (stop)"
    full = plato_sgl.run(question, method="ar", backend=backend, max_tokens=32, ignore_eos=True).answer
    windows = [full[i:i + 2] for i in range(len(full) // 2, len(full) - 1)]
    stop = next((w for w in windows if not any(c.isspace() for c in w)), None)
    assert stop, full  # a stop of visible text from the answer's second half
    cut = plato_sgl.run(question, method="ar", backend=backend, max_tokens=32, ignore_eos=True, stop=stop).answer
    assert cut == full[:full.index(stop)]


@pytest.mark.server
def test_a_stop_string_ends_plato_nodes_but_never_its_plan(backend):
    plan = "Parts: 2\n1. First part.[]\n2. Second part.[]\n"
    result = plato_sgl.run("How do bees fly? (stop)", backend=backend, node_max_tokens=16, stop=" ",
                           plan_regex=literal_regex(plan))
    assert result.ok and result.plan == plan  # the plan has spaces: the stop did not apply to it
    assert [n.id for n in result.nodes] == [1, 2]
    assert all(" " not in n.result for n in result.nodes)
