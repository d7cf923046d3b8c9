"""Cancellation on the real server: a question that times out has its requests aborted there."""

from __future__ import annotations

import threading

import pytest
import sglang as sgl

import plato_sgl
from plato_sgl.core.errors import PlatoTimeout
from plato_sgl.core.grammar import literal_regex
from plato_sgl.engine.endpoint import QuestionEndpoint, for_question
from plato_sgl.engine.http import abort_requests
from tests.polling import busy, until

pytestmark = pytest.mark.server

PLAN = "1. Alpha.[]\n2. Beta.[]\n3. Gamma.[1,2]\n"


def _settles(backend, within: float) -> bool:
    """Whether the server has no running or waiting request within ``within`` seconds."""
    return until(lambda: busy(backend.base_url) == 0, within)


def test_a_timed_out_question_stops_decoding_on_the_server(backend):
    assert _settles(backend, 30)
    with pytest.raises(PlatoTimeout, match="timed out after 4 s") as caught:
        # nodes 1 and 2 would decode 3000 tokens each (tens of seconds here) after a quick plan
        plato_sgl.run(
            "A question that runs out of time (cancel)",
            backend=backend,
            plan_regex=literal_regex(PLAN),
            node_max_tokens=3000,
            ignore_eos=True,
            timeout=4,
            frequency_penalty=0.0,
        )  # unpenalised: under a penalty the tiny model's noise can reach the template's stop string early
    partial = caught.value.result
    assert partial.plan == PLAN and [n.id for n in partial.nodes] == [1, 2, 3]
    assert any(n.dispatched_at is not None and not n.finished for n in partial.nodes)  # they were running
    assert _settles(backend, 5), "the server kept decoding the timed-out question's nodes"
    fresh = plato_sgl.run("A fresh question after the timeout", method="ar", backend=backend, max_tokens=16)
    assert fresh.ok and fresh.calls[0].completion_tokens > 0


def test_each_question_names_its_requests_and_refuses_new_ones_once_cancelled(backend):
    scoped = for_question(backend)
    assert isinstance(scoped, QuestionEndpoint) and for_question(scoped) is scoped
    assert scoped.base_url == backend.base_url and scoped.chat_template is backend.chat_template
    result = plato_sgl.run("A question whose requests are named", method="ar", backend=scoped, max_tokens=4)
    assert result.ok and len(scoped.sent) == 1 and scoped.sent[0].startswith("plato-")
    other = for_question(backend)
    plato_sgl.run("Another question", method="ar", backend=other, max_tokens=4)
    assert not set(other.sent) & set(scoped.sent)  # ids never shared between questions
    assert scoped.cancel() == [] and scoped.in_flight == []
    with pytest.raises(plato_sgl.PlatoError, match="cancelled"):
        plato_sgl.run("A question on a cancelled endpoint", method="ar", backend=scoped, max_tokens=4)


def test_an_interrupted_batch_aborts_the_requests_of_its_questions_in_flight(backend):
    """Ctrl-C in ``run_many`` (here: a timer's KeyboardInterrupt in the main thread, as SIGINT
    raises it) stops the questions in flight on the server instead of letting them decode on; so
    a bench's process can exit at once (its pool's threads end with their questions). What the
    questions' threads still hand to ``on_result`` (a bench saves it) is a failure, never an answer
    cut short by the abort."""
    import signal

    assert _settles(backend, 30)
    tasks = [
        plato_sgl.Task(
            "An interrupted batch question 0 (cancel)",
            "plato",
            {"plan_regex": literal_regex(PLAN), "node_max_tokens": 3000, "ignore_eos": True, "frequency_penalty": 0.0},
        ),
        plato_sgl.Task(
            "An interrupted batch question 1 (cancel)",
            "ar",
            {"max_tokens": 3000, "ignore_eos": True, "frequency_penalty": 0.0},
        ),
    ]  # unpenalised: under a penalty the tiny model's noise can reach the template's stop string early
    seen, saved = {}, {}

    def interrupt(signum, frame):
        seen["running"] = busy(backend.base_url)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 6.0)
    try:
        with pytest.raises(KeyboardInterrupt):
            plato_sgl.run_many(
                tasks,
                backend=backend,
                num_threads=2,
                progress_bar=False,
                on_result=lambda index, result: saved.setdefault(index, result),
            )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert seen["running"] > 0  # the batch's nodes were decoding when it was interrupted
    assert _settles(backend, 5), "the server kept decoding the interrupted batch's questions"
    until(lambda: len(saved) >= 2, 30)  # the threads hand over what they have once their requests end
    assert sorted(saved) == [0, 1]
    assert not saved[0].ok and not saved[1].ok
    plain = saved[1]  # one request, ended by the abort: its text is cut short, so it is a failure
    assert plain.calls[0].finish_reason == "abort" and plain.answer
    assert "aborted its answer request" in plain.error and "incomplete" in plain.error


@sgl.function
def _long(s):
    s += "Count on and on:"
    s += sgl.gen("text", max_tokens=3000, ignore_eos=True, temperature=0)


def test_aborting_one_request_leaves_its_question_s_later_requests_running(backend):
    # SGLang aborts every request whose id starts with the id it is given: request 1's id must not
    # be the start of request 10's (stop_first aborts a question's plan, and the question goes on)
    assert _settles(backend, 30)
    scoped = for_question(backend)
    workers = [threading.Thread(target=_long.run, kwargs=dict(backend=scoped)) for _ in range(2)]
    workers[0].start()  # request 1
    try:
        assert until(lambda: busy(backend.base_url) == 1, 30)
        for _ in range(8):  # ids 2 to 9 used up, without a request
            scoped._end(scoped._begin())
        workers[1].start()  # request 10
        assert until(lambda: busy(backend.base_url) == 2, 30)
        assert len(scoped.sent) == 10 and not any(a != b and b.startswith(a) for a in scoped.sent for b in scoped.sent)
        abort_requests(backend.base_url, [scoped.sent[0]])
        assert until(lambda: busy(backend.base_url) < 2, 5), "request 1 was not aborted"
        assert not _settles(backend, 2), "aborting request 1 also aborted request 10"
    finally:
        scoped.cancel()
        for worker in workers:
            worker.join(60)
    assert _settles(backend, 5)
