"""Plato's scheduler against a real SGLang server (tiny random model).

The plan is forced with a literal regex so the DAG is known, and nodes decode a fixed number of
tokens (ignore_eos), so these tests check behaviour (ordering, overlap, cache reuse, counts), never
speed.
"""

from __future__ import annotations

import time

import pytest

import plato_sgl
from plato_sgl.core import prompts
from plato_sgl.core.grammar import literal_regex
from plato_sgl.core.options import Options
from plato_sgl.core.parser import parse_plan
from plato_sgl.methods.plato import PlatoRun

pytestmark = pytest.mark.server

QUESTION = "How should a small library plan its next year?"
LONG = "with a long description so that decoding the rest of the plan takes a while"

# Roots 1 and 2; 3 needs both; 4 needs only 2 (so 2's result sits at a different position in
# 4's dependency-only context than in 3's); 5 closes the plan.
DIAMOND = (
    f"1. Survey what readers ask for {LONG}.[]\n"
    f"2. Review the budget and the staff hours {LONG}.[]\n"
    "3. Choose new services.[1,2]\n"
    "4. Plan the opening hours.[2]\n"
    "5. Write the final plan.[3,4]\n"
)


def plato(backend, topic: str, plan: str = DIAMOND, **options) -> plato_sgl.Result:
    """Run the forced plan; ``topic`` makes the question unique, so no run reuses another's cache."""
    # unpenalised: under a penalty the tiny model's noise can repeat across nodes word for word,
    # and compose() rightly leaves such a node out of the answer
    settings = dict(plan_regex=literal_regex(plan), node_max_tokens=24, ignore_eos=True, frequency_penalty=0.0)
    settings.update(options)
    return plato_sgl.run(f"{QUESTION} ({topic})", backend=backend, **settings)


@pytest.fixture(scope="module")
def pipelined(backend):
    return plato(backend, "pipelined")


def test_the_forced_plan_is_decoded_and_every_node_answered(pipelined):
    expected, _ = parse_plan(DIAMOND)
    assert pipelined.error is None
    assert pipelined.plan == DIAMOND
    assert [(n.id, n.description, n.deps) for n in pipelined.nodes] == [(n.id, n.description, n.deps) for n in expected]
    assert all(n.finished and n.completion_tokens == 24 for n in pipelined.nodes)
    assert pipelined.critical_path == 3 and pipelined.parallel_degree == pytest.approx(5 / 3)
    # the answer is the node results in plan order, each under its description
    positions = [pipelined.answer.index(f"**{n.description}**") for n in pipelined.nodes]
    assert positions == sorted(positions)
    assert pipelined.answer.rstrip().endswith(pipelined.nodes[-1].result.strip())


def test_a_sized_plan_s_opening_is_in_its_prompt_and_only_the_rest_is_decoded(backend, sent_generate):
    plan = "Parts: 2\n1. Causes.[]\n2. Remedies.[1]\n"
    result = plato(backend, "opening", plan)
    assert result.error is None and result.plan == plan and result.plan_size == 2
    rest = literal_regex(plan.removeprefix("Parts: "))
    [request] = [b for b in sent_generate if b["sampling_params"].get("regex") == rest]
    assert request["text"].endswith("<|im_start|>assistant\nParts: ")


def test_pipelining_dispatches_the_first_node_before_the_plan_is_done(pipelined):
    first = pipelined.node(1)
    assert first.parsed_at < pipelined.plan_done_at
    assert first.dispatched_at < pipelined.plan_done_at


def test_no_node_is_dispatched_before_its_dependencies_finished(pipelined):
    for node in pipelined.nodes:
        assert node.dispatched_at >= node.parsed_at
        for dep in node.deps:
            assert node.dispatched_at >= pipelined.node(dep).finished_at
        assert node.dispatched_at <= node.started_at <= node.finished_at


def test_independent_ready_nodes_run_together(backend):
    result = plato(backend, "overlap", pipeline=False, node_max_tokens=48)
    one, two = result.node(1), result.node(2)
    assert one.dispatched_at == two.dispatched_at  # forked together
    assert one.started_at < two.finished_at and two.started_at < one.finished_at  # overlapping


def test_global_context_is_in_finish_order_and_each_result_is_prefilled_once(pipelined, tokenizer):
    finish_order = [n.id for n in sorted(pipelined.nodes, key=lambda n: n.finished_at)]
    for node in pipelined.nodes:
        # the context holds every node finished at dispatch, in finish order
        assert list(node.context_ids) == [
            i for i in finish_order if pipelined.node(i).finished_at <= node.dispatched_at
        ]
    # Every token computed on the node side is the shared prefix once, each node's own sub-task
    # (part 4) and assistant turn, and each result that a later node read, once: whether a context
    # prefill or the later node's own request computed it.
    contexts = [c for c in pipelined.calls if c.kind == "context"]
    computed = sum(r.prompt_tokens - r.cached_tokens for r in [*pipelined.nodes, *contexts])
    read = {i for n in pipelined.nodes for i in n.context_ids}
    once = (
        contexts[0].prompt_tokens
        - contexts[0].cached_tokens
        + sum(_own_tokens(tokenizer, n) for n in pipelined.nodes)
        + sum(_entry_tokens(tokenizer, pipelined.node(i)) for i in read)
    )
    # (tokenized piece by piece, ``once`` can exceed the server's count of the joined text a little)
    assert 0.9 * once <= computed <= once + 2 * len(pipelined.nodes), (computed, once)
    later = pipelined.node(5)
    assert len(later.context_ids) == 4 and later.cached_tokens > pipelined.node(1).cached_tokens


def test_a_context_prefill_is_sent_only_for_a_node_that_waits_for_it(pipelined):
    # a prefill follows a finish only when a known node was still waiting to start; in the
    # diamond that is every finish before node 5 started, except one after which nothing waited
    contexts = [c for c in pipelined.calls if c.kind == "context"]
    waiting_finishes = [
        n for n in pipelined.nodes if any(m.parsed_at <= n.finished_at < m.dispatched_at for m in pipelined.nodes)
    ]
    assert 1 <= len(contexts) <= 1 + len(waiting_finishes)
    for call in contexts[1:]:  # each one was read by a node dispatched after it
        assert any(m.dispatched_at >= call.started_at for m in pipelined.nodes)


def _entry_tokens(tokenizer, node) -> int:
    return len(tokenizer(prompts.context_entry(node.description, node.result))["input_ids"])


def _own_tokens(tokenizer, node) -> int:
    """Tokens of a node's own part (4) and the assistant turn: what no other request can share."""
    own = prompts.node_task(node.description) + "<|im_end|>\n<|im_start|>assistant\n"
    return len(tokenizer(own)["input_ids"])


def test_dependency_only_context_reuses_less(backend, pipelined, tokenizer):
    deps = plato(backend, "dependency-only", context="deps")
    assert deps.error is None
    for node in deps.nodes:
        assert node.context_ids == node.deps
    # Node 4 needs only node 2, whose result sits behind node 1's in node 3's prompt: at another
    # position, so node 2's result is prefilled a second time for node 4...
    two, four = deps.node(2), deps.node(4)
    entry = _entry_tokens(tokenizer, two)
    assert four.prompt_tokens - four.cached_tokens >= _own_tokens(tokenizer, four) + entry - 2
    # ...while with the global context every result is prefilled once (test above).


def test_plan_then_execute_dispatches_nothing_before_the_plan_ends(backend):
    result = plato(backend, "plan first", pipeline=False)
    assert all(n.dispatched_at >= result.plan_done_at for n in result.nodes)


def test_a_plan_reader_busy_with_each_piece_still_reads_the_last_line(backend):
    # SGLang's text_iter drops the text that arrives while its reader is busy with the piece before,
    # if the gen ends meanwhile; here the plan's reader is a route that takes 0.2 s over each piece
    def deliberate(size, nodes, done):
        time.sleep(0.2)
        return "" if done else None

    options = Options(plan_regex=literal_regex(DIAMOND), node_max_tokens=8, ignore_eos=True, frequency_penalty=0.0)
    result = PlatoRun(f"{QUESTION} (a slow reader)", backend, options, route=deliberate).run()
    assert result.error is None and result.plan == DIAMOND, (result.error, result.plan)
    assert [n.id for n in result.nodes] == [1, 2, 3, 4, 5] and not result.fallback


def test_run_batch_returns_one_result_per_question_in_order(backend):
    questions = [f"Question number {i}: what is {i} plus {i}?" for i in range(4)]
    plan = "1. Add the numbers.[]\n2. State the sum.[1]\n"
    results = plato_sgl.run_batch(
        questions,
        backend=backend,
        num_threads=4,
        progress_bar=False,
        plan_regex=literal_regex(plan),
        node_max_tokens=8,
        ignore_eos=True,
    )
    assert [r.question for r in results] == questions
    assert all(r.error is None and len(r.nodes) == 2 for r in results), [(r.error, r.fallback, r.plan) for r in results]


def test_free_plan_under_the_grammar_is_a_valid_dag(backend):
    result = plato_sgl.run(QUESTION, backend=backend, max_nodes=4, plan_max_tokens=160, node_max_tokens=8)
    assert result.error is None
    nodes, repairs = parse_plan(result.plan)  # strict: raises if any complete line were malformed
    assert 1 <= len(nodes) <= 4 and [n.id for n in nodes] == list(range(1, len(nodes) + 1))
    assert all(dep < n.id for n in nodes for dep in n.deps)


@pytest.mark.smoke
def test_smoke_real_model_answers_with_several_nodes(smollm_server):
    # unsized: SmolLM2-135M decides on one part under the size decision; the smoke test is of several nodes
    result = plato_sgl.run(
        "What are the benefits of drinking water?",
        backend=smollm_server.endpoint(),
        max_nodes=4,
        node_max_tokens=64,
        sized=False,
    )
    assert result.error is None
    assert len(result.nodes) >= 2
    assert result.answer.strip()


def test_temperature_reaches_the_plan_and_the_nodes(backend):
    # Unsized: a sized plan may decide on one part (a coin flip for the random model at
    # temperature 1), and Plato then answers plainly, with no node to compare.
    def plans(temperature: float) -> list[tuple[str, str]]:
        runs = [
            plato_sgl.run(
                f"{QUESTION} (temperature {temperature})",
                backend=backend,
                temperature=temperature,
                sized=False,
                max_nodes=2,
                plan_max_tokens=48,
                node_max_tokens=6,
                ignore_eos=True,
            )
            for _ in range(2)
        ]
        assert all(r.nodes for r in runs), [r.route for r in runs]
        return [(r.plan, r.nodes[0].result) for r in runs]

    greedy, sampled = plans(0.0), plans(1.0)
    assert greedy[0] == greedy[1]  # temperature 0: the same text twice
    assert sampled[0] != sampled[1]  # temperature 1: sampling reached the requests
