"""Skeleton-of-Thought: the skeleton grammar and parser alone, then the method on the real server.

Server tests force the skeleton with a literal regex (``plan_regex``) and let every point decode a
fixed number of tokens (ignore_eos), so they check behaviour (concurrency, order, cache reuse),
never speed or sense.
"""

from __future__ import annotations

import pytest
import regex

import plato_sgl
from plato_sgl.core.grammar import literal_regex
from plato_sgl.methods.sot import EXPAND_OWN, compose_answer, point_opening, skeleton_regex

QUESTION = "How do honey bees organize their colony?"
FORCED = " Worker bees.\n2. Drone bees.\n3. The queen bee.\n4. Swarming in spring."  # after "1."
POINTS = ["Worker bees.", "Drone bees.", "The queen bee.", "Swarming in spring."]
NODE_TOKENS = 24


@pytest.fixture(scope="module")
def forced(backend) -> plato_sgl.Result:
    return plato_sgl.run(
        QUESTION,
        method="sot",
        backend=backend,
        plan_regex=literal_regex(FORCED),
        node_max_tokens=NODE_TOKENS,
        ignore_eos=True,
    )


def test_the_forced_skeleton_gives_one_node_per_point(forced) -> None:
    assert forced.ok and forced.method == "sot"
    assert forced.plan == "1." + FORCED
    assert [(n.id, n.description, n.deps) for n in forced.nodes] == [(i, p, ()) for i, p in enumerate(POINTS, 1)]
    assert all(n.finished and n.completion_tokens == NODE_TOKENS for n in forced.nodes)
    assert forced.parallel_degree == len(POINTS) and forced.critical_path == 1
    [skeleton] = forced.calls
    assert skeleton.kind == "skeleton" and skeleton.completion_tokens > 0
    assert skeleton.finished_at == forced.plan_done_at
    assert skeleton.started_at < forced.plan_first_token_at <= forced.plan_done_at


def test_points_are_expanded_concurrently(forced) -> None:
    nodes = forced.nodes
    assert len({n.dispatched_at for n in nodes}) == 1  # forked together
    assert nodes[0].dispatched_at >= forced.plan_done_at
    # every branch was decoding while every other one was: the decode intervals all overlap
    assert max(n.started_at for n in nodes) < min(n.finished_at for n in nodes)


def test_the_answer_is_the_points_in_order(forced) -> None:
    expected = compose_answer([(n.id, n.description, n.result) for n in forced.nodes])
    assert forced.answer == expected
    positions = [forced.answer.index(point_opening(i, p)) for i, p in enumerate(POINTS, 1)]
    assert positions == sorted(positions)


def test_every_branch_reuses_the_cached_question_and_skeleton(forced, tokenizer) -> None:
    for node in forced.nodes:
        # what follows the shared prefix: the point's own index, the turn change and its start
        own = (
            EXPAND_OWN.format(index=node.id)
            + "<|im_end|>\n<|im_start|>assistant\n"
            + point_opening(node.id, node.description)
        )
        own_tokens = len(tokenizer(own, add_special_tokens=False).input_ids)
        assert node.prompt_tokens - node.cached_tokens <= own_tokens + 2, node


def test_the_default_regex_gives_3_to_max_points(backend) -> None:
    result = plato_sgl.run(QUESTION, method="sot", backend=backend, max_nodes=4, plan_max_tokens=256, node_max_tokens=4)
    assert result.ok and result.fallback is None
    assert 3 <= len(result.nodes) <= 4
    assert [n.id for n in result.nodes] == list(range(1, len(result.nodes) + 1))
    assert regex.fullmatch(skeleton_regex(4), result.plan.removeprefix("1."))


def test_the_temperature_reaches_the_skeleton_and_the_points(backend) -> None:
    def sample() -> plato_sgl.Result:
        settings = dict(max_nodes=3, plan_max_tokens=64, node_max_tokens=8, temperature=1.0)
        return plato_sgl.run(QUESTION, method="sot", backend=backend, **settings)

    first, second = sample(), sample()
    assert first.plan != second.plan  # a random model at temperature 1 never repeats itself
    assert [n.result for n in first.nodes] != [n.result for n in second.nodes]


def test_a_point_that_fails_is_reported_at_once_not_after_the_others(backend, tokenizer) -> None:
    # Point 2 is long: its own prompt part plus node_max_tokens overflows the tiny model's 4096-token
    # context, so the server refuses it at once, while point 1 fits and would decode for long.
    long_point = " ".join(f"part{i}" for i in range(260))
    skeleton = f" Short point.\n2. {long_point}.\n3. Another short point."
    shared = len(tokenizer(skeleton)["input_ids"])
    assert 2 * shared + 2600 > 4096 > shared + 2600 + 200, shared  # the lengths do what the comment says
    with pytest.raises(plato_sgl.PlatoError, match=r"node 2 .*refused request 'expansion'") as caught:
        plato_sgl.run(
            "A question with one impossible point",
            method="sot",
            backend=backend,
            plan_regex=literal_regex(skeleton),
            plan_max_tokens=2048,
            node_max_tokens=2600,
            ignore_eos=True,
            frequency_penalty=0.0,
        )  # unpenalised: under a penalty the tiny model's noise can reach the template's stop string early
    partial = caught.value.result
    assert partial.node(1).dispatched_at is not None
    assert not partial.node(1).finished  # the failure did not wait for point 1's 2600 tokens


@pytest.mark.smoke
def test_smoke_a_real_model_expands_its_points(judge_server) -> None:
    """Expansions that continued "<index>. <point>." mostly ended after one token (Qwen2.5-Coder
    0.5B and 1.5B: here 3 of 4 points), so SoT's answer was its skeleton. Each point now opens a
    sentence to finish, and a real model writes it."""
    result = plato_sgl.run(
        "What are the most effective ways to deal with stress?",
        method="sot",
        backend=judge_server.endpoint(),
        max_nodes=4,
        node_max_tokens=48,
    )
    assert result.ok and len(result.nodes) >= 3
    written = [n for n in result.nodes if n.completion_tokens > 3 and n.result.strip()]
    assert len(written) == len(result.nodes), [(n.description, n.completion_tokens, n.result) for n in result.nodes]
    assert len(result.answer) > len(result.plan)
