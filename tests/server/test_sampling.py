"""Sampling settings (``top_p``, ``top_k``, ``stop``, the penalties, ``seed``) reach SGLang, from ``run`` and the CLI.

Against the tiny random model: its text is noise, but noise that is deterministic under greedy
decoding, which is what these tests compare against.
"""

from __future__ import annotations

import pytest

import plato_sgl
from plato_sgl.core.grammar import literal_regex

PROSE = "How can I improve my time management skills?"
CODE = "Implement a Python function to find the longest common subsequence of two input strings."


def _decoding_requests(sent_generate):
    """The sampling parameters of the recorded requests that decode (not prefills), split into the
    structure request (a plan or skeleton: a regex and more than 16 tokens) and the answer requests."""
    decoding = [b["sampling_params"] for b in sent_generate if b["sampling_params"].get("max_new_tokens")]
    structure = [p for p in decoding if "regex" in p and p["max_new_tokens"] > 16]
    return structure, [p for p in decoding if p not in structure]


@pytest.mark.server
def test_every_request_of_a_question_carries_its_seed_and_the_server_takes_it(backend, sent_generate):
    """The frontend has no seed parameter: the question's endpoint adds ``sampling_seed`` to every
    /generate body (plan, prefills, nodes) on its way to the real server, which accepts it (this CPU
    server samples as usual: SGLang applies the seed under --enable-deterministic-inference only)."""

    def questions_own():
        return [body for body in sent_generate if str(body.get("rid", "")).startswith("plato-")]

    result = plato_sgl.run("How do bees make honey? (seed)", backend=backend, seed=7, max_nodes=3, node_max_tokens=8)
    assert result.error is None and result.nodes
    assert len(questions_own()) >= 2 and all(body["sampling_params"]["sampling_seed"] == 7 for body in questions_own())
    sent_generate.clear()
    plato_sgl.run("How do bees make honey? (seed)", method="ar", backend=backend, max_tokens=8)
    assert questions_own() and all("sampling_seed" not in body["sampling_params"] for body in questions_own())


@pytest.mark.server
def test_penalties_reach_every_answer_request_and_never_a_plan_or_skeleton(backend, sent_generate):
    """Recorded on their way to the real server, which decodes every one of them."""
    penalties = {"frequency_penalty": 0.7, "presence_penalty": 0.3}
    for method in ("plato", "sot"):
        sent_generate.clear()
        result = plato_sgl.run(
            "How do bees make honey? (penalty)",
            method=method,
            backend=backend,
            max_nodes=3,
            node_max_tokens=8,
            **penalties,
        )
        assert result.error is None and result.nodes, method
        structure, answers = _decoding_requests(sent_generate)
        assert len(structure) == 1 and len(answers) == len(result.nodes), method
        assert {k: structure[0][k] for k in penalties} == {"frequency_penalty": 0.0, "presence_penalty": 0.0}
        assert all({k: p[k] for k in penalties} == penalties for p in answers), method


@pytest.mark.server
def test_every_plan_and_skeleton_sends_the_same_stop_strings(backend, sent_generate):
    """SGLang appends the chat template's stop string to a request's stop list in place: a list
    shared between requests grew by one a question until the server refused the 33rd."""
    for method in ("plato", "sot"):
        stops = []
        for _ in range(3):
            sent_generate.clear()
            assert plato_sgl.run(
                "How do bees make honey? (stops)", method=method, backend=backend, max_nodes=2, node_max_tokens=4
            ).ok
            stops += [
                b["sampling_params"].get("stop")
                for b in sent_generate
                if (b["sampling_params"].get("max_new_tokens") or 0) > 16
            ]
        assert len(stops) == 3 and stops[0] == stops[1] == stops[2] and len(stops[0]) <= 1, (method, stops)


@pytest.mark.server
def test_a_frequency_penalty_changes_the_greedy_text(backend):
    """The tiny model's greedy noise repeats tokens; the server's penalty makes it pick others."""
    question = "How do bees make honey? (penalty)"
    greedy = plato_sgl.run(
        question, method="ar", backend=backend, max_tokens=32, ignore_eos=True, frequency_penalty=0.0
    )
    penalised = plato_sgl.run(
        question, method="ar", backend=backend, max_tokens=32, ignore_eos=True, frequency_penalty=2.0
    )
    assert greedy.completion_tokens == penalised.completion_tokens == 32
    assert penalised.answer != greedy.answer


@pytest.mark.server
def test_top_k_1_samples_the_greedy_text_at_any_temperature(backend):
    greedy = plato_sgl.run("How do bees make honey? (sampling)", method="ar", backend=backend, max_tokens=24).answer
    hot = [
        plato_sgl.run(
            "How do bees make honey? (sampling)", method="ar", backend=backend, max_tokens=24, temperature=1.5, top_k=1
        ).answer
        for _ in range(2)
    ]
    assert hot == [greedy, greedy]


@pytest.mark.server
def test_a_stop_string_ends_a_plain_answer_where_it_first_appears(smollm_server):
    # SmolLM2 (a real model, small): the tiny random model answers this prompt with blank lines only
    backend = smollm_server.endpoint(warm_up=False)
    question = "Name three colours. (stop)"
    full = plato_sgl.run(question, method="ar", backend=backend, max_tokens=32, ignore_eos=True).answer
    windows = [full[i : i + 2] for i in range(len(full) // 2, len(full) - 1)]
    stop = next((w for w in windows if not any(c.isspace() for c in w)), None)
    assert stop, full  # a stop of visible text from the answer's second half
    cut = plato_sgl.run(question, method="ar", backend=backend, max_tokens=32, ignore_eos=True, stop=stop).answer
    assert cut == full[: full.index(stop)]


@pytest.mark.server
def test_a_stop_string_ends_plato_nodes_but_never_its_plan(backend):
    plan = "Parts: 2\n1. First part.[]\n2. Second part.[]\n"
    result = plato_sgl.run(
        "How do bees fly? (stop)", backend=backend, node_max_tokens=16, stop=" ", plan_regex=literal_regex(plan)
    )
    assert result.ok and result.plan == plan  # the plan has spaces: the stop did not apply to it
    assert [n.id for n in result.nodes] == [1, 2]
    assert all(" " not in n.result for n in result.nodes)


@pytest.mark.server
def test_by_default_a_programming_tasks_answer_goes_unpenalised_and_prose_does_not(backend, sent_generate):
    """Recorded on their way to the real server: plain answers and Plato's nodes alike."""
    for method in ("ar", "plato"):
        sent, recorded = {}, {}
        for question in (PROSE, CODE):
            sent_generate.clear()
            result = plato_sgl.run(
                question, method=method, backend=backend, max_tokens=8, max_nodes=2, node_max_tokens=8
            )
            assert result.error is None, (method, question)
            sent[question] = {p["frequency_penalty"] for p in _decoding_requests(sent_generate)[1]}
            recorded[question] = result.options["frequency_penalty"]
        assert sent == {PROSE: {0.5}, CODE: {0.0}}, method
        assert recorded == {PROSE: 0.5, CODE: 0.0}, method  # the Result records the value sent, not the default None
