"""Several SGLang workers behind a real sglang-router (two tiny-model workers, ``LocalCluster``).

Through the router's one URL: connecting (template detection and warm-up on the workers, which the
router does not proxy), every fork of a question finding its prefix cached as on one server, the
questions of a batch spread over both workers, under the default ``manual`` policy every request of
a question on one worker (read from the workers' request logs), a second router with another
policy in front of the same workers, aborts reaching the worker that runs a request, and
a worker killed mid-batch: its questions fail with an error naming the failed request, nothing is
lost, and ``bench --resume`` reruns only those. The last test kills a worker of the shared cluster.
"""

from __future__ import annotations

import os
import re
import signal
import threading

import pytest
import requests

import plato_sgl
from plato_sgl.core.errors import PlatoTimeout
from plato_sgl.core.grammar import literal_regex
from plato_sgl.engine import http
from plato_sgl.evaluation.bench import describe_backend, run_bench, variants_for
from plato_sgl.evaluation.datasets import Question
from plato_sgl.evaluation.records import load_rows
from plato_sgl.serving.local import DEFAULT_ROUTER_POLICY, LocalRouter
from tests.helpers import server_load
from tests.polling import busy, until

pytestmark = pytest.mark.server

PLAN = "1. Alpha part of it.[]\n2. Beta part of it.[]\n3. Gamma closes it.[1,2]\n"
FORCED = dict(plan_regex=literal_regex(PLAN), node_max_tokens=8, ignore_eos=True)


@pytest.fixture(scope="module")
def cluster_backend(router_cluster):
    return router_cluster.endpoint()


def _uncached(url: str) -> list[int]:
    """Each worker's running total of prompt tokens it had to compute (not found in its cache)."""
    return [int(load["total_prefill_uncached_tokens"]) for load in http.server_loads(url)]


def _unlike_the_plan(results) -> str:
    """Every result that is not the forced plan answered in full, with all that tells why (a str:
    pytest shortens a non-str assertion message to 240 characters)."""
    return "\n".join(
        f"{r.question!r}: error={r.error!r} aborted={r.aborted()} fallback={r.fallback!r} plan={r.plan!r} "
        f"nodes={[(n.id, n.finish_reason, n.result) for n in r.nodes]} repairs={r.repairs} "
        f"calls={[(c.kind, c.finish_reason) for c in r.calls]}"
        for r in results
        if not (r.ok and len(r.nodes) == 3)
    )


def test_the_router_url_stands_for_its_workers(router_cluster, cluster_backend):
    workers = sorted(w.url for w in router_cluster.workers)
    assert sorted(http.worker_urls(router_cluster.url)) == workers
    assert http.worker_urls(workers[0]) == [workers[0]]
    # what the router lacks is asked of a worker: the chat template detected there, /v1/loads per worker
    assert plato_sgl.connect(router_cluster.url, warm_up=False).chat_template.name == "chatml"
    assert sorted(load["url"] for load in http.server_loads(router_cluster.url)) == workers
    assert http.server_args(router_cluster.url)["device"] == "cpu"
    environment = describe_backend(cluster_backend)  # what a bench through the router records
    assert environment["device"] == "cpu" and environment["workers"] == 2
    assert cluster_backend.base_url == router_cluster.url


def test_every_fork_finds_its_prefix_cached_and_the_batch_spreads_over_both_workers(router_cluster, cluster_backend):
    before = _uncached(router_cluster.url)
    questions = [f"Which garden plants suit plot {i} on the hill?" for i in range(6)]
    results = plato_sgl.run_batch(questions, backend=cluster_backend, num_threads=6, progress_bar=False, **FORCED)
    after = _uncached(router_cluster.url)
    assert all(r.ok and len(r.nodes) == 3 for r in results), _unlike_the_plan(results)
    for result in results:
        prefix = next(c for c in result.calls if c.kind == "context")  # the node prompt prefix, prefilled once
        for node in result.nodes:
            # each fork found at least the whole shared prefix cached: it ran where the prefix was
            assert node.cached_tokens >= prefix.prompt_tokens - 2, (node.id, node.cached_tokens, prefix.prompt_tokens)
    assert all(a > b for a, b in zip(after, before)), (before, after)  # both workers computed part of the batch


def test_a_timed_out_question_is_aborted_on_the_worker_that_runs_it(router_cluster, cluster_backend):
    assert until(lambda: busy(router_cluster.url) == 0, 30)
    with pytest.raises(PlatoTimeout, match="timed out after 4 s"):
        plato_sgl.run(
            "A question that runs out of time behind the router",
            backend=cluster_backend,
            plan_regex=literal_regex(PLAN),
            node_max_tokens=3000,
            ignore_eos=True,
            timeout=4,
            frequency_penalty=0.0,
        )  # unpenalised: under a penalty the tiny model's noise can reach the template's stop string early
    # the router has no /abort_request: the abort went to every worker, and the one running it stopped
    assert until(lambda: busy(router_cluster.url) == 0, 5), http.server_loads(router_cluster.url)


_QUESTION_RID = re.compile(r"rid='(plato-[0-9a-f]{12})-\d+\.'")  # cancel.py: plato-<question>-<n>.


def placement(cluster, url: str, questions: list[str]) -> dict[str, set[int]]:
    """Run ``questions`` as one batch of Plato questions through the router at ``url`` and return,
    for each question (its request-id prefix), the workers (indices) its requests reached, read
    from the workers' request logs."""
    starts = [w.log_path.stat().st_size for w in cluster.workers]
    results = plato_sgl.run_batch(
        questions,
        backend=plato_sgl.connect(url, chat_template="chatml", warm_up=False),
        num_threads=len(questions),
        progress_bar=False,
        **FORCED,
    )
    assert all(r.ok for r in results), [r.error for r in results]
    seen: dict[str, set[int]] = {}
    for index, (worker, start) in enumerate(zip(cluster.workers, starts)):
        with open(worker.log_path, "rb") as log:
            log.seek(start)
            for question in _QUESTION_RID.findall(log.read().decode(errors="replace")):
                seen.setdefault(question, set()).add(index)
    return seen


def test_under_the_manual_policy_a_question_stays_on_one_worker_and_a_batch_spreads(router_cluster):
    # the default policy (manual) routes by the routing key each request carries: its question
    assert DEFAULT_ROUTER_POLICY == "manual" and router_cluster.router.policy == "manual"
    seen = placement(router_cluster, router_cluster.url, [f"How should shop {i} arrange its window?" for i in range(6)])
    assert len(seen) == 6, seen  # every question's requests were found in a worker's log
    assert all(len(workers) == 1 for workers in seen.values()), seen  # plan, prefix, prefills, nodes: one worker
    assert {w for workers in seen.values() for w in workers} == {0, 1}, seen  # the batch used both workers


def test_a_second_router_with_another_policy_fronts_the_same_workers(router_cluster):
    """``LocalRouter(policy=...)`` in front of running workers, beside the cluster's own router (each
    with its own metrics port): here cache_aware. Its placement is not asserted, only reported in the
    README: in the run that chose the default, it split each of the 6 questions over both workers."""
    with LocalRouter([w.url for w in router_cluster.workers], policy="cache_aware") as router:
        seen = placement(router_cluster, router.url, [f"How should cafe {i} arrange its menu?" for i in range(6)])
    assert len(seen) == 6, seen  # every question answered through it, its requests on the cluster's workers


def test_a_worker_killed_mid_batch_fails_only_its_questions_and_resume_reruns_them(
    router_cluster, cluster_backend, tmp_path
):
    questions = [Question(id=str(i), text=f"How should team {i} plan its sprint?") for i in range(1, 7)]
    variants = variants_for(
        ["plato"],
        options=dict(plan_regex=literal_regex(PLAN), node_max_tokens=600, ignore_eos=True, frequency_penalty=0.0),
    )  # unpenalised: under a penalty the tiny model's noise can reach the template's stop string early
    out = tmp_path / "run"
    victim = router_cluster.workers[1]
    bench = threading.Thread(
        target=run_bench,
        args=(questions, variants, cluster_backend, out),
        kwargs=dict(concurrency=6, progress_bar=False),
        daemon=True,
    )
    bench.start()
    running = lambda: int(server_load(victim.url).get("num_running_reqs", 0)) > 0  # noqa: E731
    assert until(running, 120), "no request reached the second worker"
    os.killpg(victim.process.pid, signal.SIGKILL)  # the worker and its children, as a crash would
    bench.join(600)
    assert not bench.is_alive()

    saved = load_rows(out)["plato"]
    assert sorted(saved, key=int) == [q.id for q in questions]  # every question has its row: nothing lost
    failed = sorted((qid for qid, row in saved.items() if not row.result.ok), key=int)
    assert failed, "no question ran on the killed worker"
    for qid in failed:  # each names what failed: its plan, a node, or the bench's prompt warm-up before it
        error = saved[qid].result.error
        assert "failed" in error and any(part in error for part in ("node", "plan", "warming up the prompt")), error

    # once the router has seen the worker die, the rerun goes to the live one
    def victim_out_of_rotation() -> bool:
        workers = requests.get(f"{router_cluster.url}/workers", timeout=5).json()["workers"]
        return any(w["url"] == victim.url and not w["is_healthy"] for w in workers)

    assert until(victim_out_of_rotation, 60)
    rerun = run_bench(questions, variants, cluster_backend, out, concurrency=6, resume=True, progress_bar=False)
    assert sorted((r.question.id for r in rerun), key=int) == failed  # only the failed ones ran again
    assert all(r.result.ok for r in rerun), [r.result.error for r in rerun]
    assert all(row.result.ok for row in load_rows(out)["plato"].values())
