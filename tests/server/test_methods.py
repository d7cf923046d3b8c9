"""One method interface: every method answers through ``run``/``run_batch`` into the same Result, and
the single-request baselines (AR, CoT) send exactly the prompt they claim, on the real tiny server."""

from __future__ import annotations

import pytest

import plato_sgl
from plato_sgl.core import prompts
from plato_sgl.core.grammar import literal_regex
from plato_sgl.core.result import Result

pytestmark = pytest.mark.server

QUESTION = "Why is the sky blue?"
PLAN = "1. Explain scattering.[]\n2. Relate it to colour.[1]\n"
SKELETON = " Scattering.\n2. Wavelength.\n3. Our eyes."  # SoT's skeleton after its "1."
# Greedy: the same answers every run (sampled, the tiny model now and then ends an answer at once).
SMALL = dict(max_tokens=12, plan_max_tokens=48, node_max_tokens=6, max_nodes=3, temperature=0.0)


@pytest.mark.parametrize("method, user", [("ar", QUESTION), ("cot", f"{QUESTION}\n{prompts.COT_INSTRUCTION}")])
def test_single_request_baselines_send_their_prompt_and_report_tokens(backend, chat_tokens, method, user):
    result = plato_sgl.run(QUESTION, method=method, backend=backend, max_tokens=12, temperature=1.0)
    assert result.ok and result.method == method and result.nodes == []
    [call] = result.calls
    assert call.kind == "answer"
    assert call.prompt_tokens == chat_tokens(user, prompts.ASSISTANT_SYSTEM)  # CoT: the instruction reached the model
    assert 1 <= call.completion_tokens <= 12
    assert result.answer and result.completion_tokens == call.completion_tokens
    assert 0 < call.finished_at <= result.wall_time


@pytest.mark.parametrize("method", sorted(plato_sgl.METHODS))
def test_every_method_returns_the_same_result_shape(backend, method):
    forced = {"plato": {"plan_regex": literal_regex(PLAN)}, "sot": {"plan_regex": literal_regex(SKELETON)}}
    result = plato_sgl.run(QUESTION, method=method, backend=backend, **{**SMALL, **forced.get(method, {})})
    assert isinstance(result, Result) and result.ok, result.error
    assert result.method == method and result.answer
    assert result.completion_tokens > 0 and result.wall_time > 0 and result.throughput > 0
    assert Result.from_dict(result.to_dict()) == result  # every method saves and loads alike
    if method in ("ar", "cot"):
        assert result.nodes == []
    if method in forced:  # Plato's sub-tasks and SoT's points are nodes alike
        assert len(result.nodes) == {"plato": 2, "sot": 3}[method]
        assert all(n.finished and n.description for n in result.nodes)


def test_run_batch_takes_the_method_and_keeps_the_order(backend):
    questions = [f"{QUESTION} (variant {i})" for i in range(3)]
    results = plato_sgl.run_batch(
        questions, method="cot", backend=backend, num_threads=3, progress_bar=False, max_tokens=6
    )
    assert [r.question for r in results] == questions
    assert all(r.ok and r.method == "cot" for r in results)


def test_run_many_runs_mixed_tasks_from_the_package_namespace(backend):
    tasks = [
        plato_sgl.Task(f"{QUESTION} (task {i})", method, {"max_tokens": 5}) for i, method in enumerate(["ar", "cot"])
    ]
    seen = []
    results = plato_sgl.run_many(
        tasks, backend=backend, num_threads=2, progress_bar=False, on_result=lambda i, r: seen.append(i)
    )
    assert [(r.question, r.method) for r in results] == [(t.question, t.method) for t in tasks]
    assert all(r.ok for r in results) and sorted(seen) == [0, 1]
