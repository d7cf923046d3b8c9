"""The judge runner (``run_judge``) against real SGLang servers, on answers saved as ``bench`` saves them.

On the tiny server's own runtime the verdict regex holds, so every judgement has a verdict; through
the same server's OpenAI-compatible ``/v1`` the regex is not enforced and the random model never
writes one, so each judgement is retried once and recorded as "no verdict". The cache makes a
re-run free, redoes a torn last line, judges a changed answer again and retries failed requests.

The sanity test (``smoke``) has a real judge, Qwen2.5-Coder-1.5B-Instruct (the strongest local
model), prefer a real answer to an empty or off-topic one on 3 questions in both orders. Measured on
the 2-core CPU machine beside a running benchmark: the 6 judgements took 386 s (most of it the
prefill of their prompts), 443 s with the server start, plus 150 s once to build the model.
Qwen2.5-Coder-0.5B judged them in about 280 s but called all three pairs ties (position bias, and
once it preferred the empty answer), so it cannot stand in.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import threading
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from plato_sgl.cli import main
from plato_sgl.core.errors import PlatoError
from plato_sgl.evaluation.datasets import Question
from plato_sgl.evaluation.judge import (
    VERDICT_REGEX,
    Judgement,
    cache_key,
    pair_records,
    run_judge,
)
from plato_sgl.evaluation.records import JUDGEMENTS_FILE, load_rows
from plato_sgl.evaluation.verdicts import combine, tally
from plato_sgl.serving.local import LocalServer
from tests.helpers import save_answers

Q = {
    q.id: q
    for q in (
        Question("1", "How do bees make honey?", "generic"),
        Question("2", "What is 17 times 3?", "math"),
        Question("3", "Name two causes of the French Revolution.", "knowledge"),
        Question("4", "Why is the sea salty?", "generic"),
    )
}
PAIRS = [("plato", "ar"), ("plato", "sot")]
PER_JUDGEMENT = 2  # requests per judgement on SGLang's runtime: the explanation, then the constrained verdict
JUDGED = {"1", "2", "3"}  # question 4: ar failed and sot never ran, so no pair has two answers


def save_benchmark(folder: Path) -> Path:
    """A results folder: plato, ar and sot answered questions 1-3; on question 4 ar failed, sot never ran."""
    folder.mkdir(parents=True, exist_ok=True)
    for variant in ("plato", "ar", "sot"):
        save_answers(folder, variant, {Q[i]: f"{variant}'s answer to question {i}." for i in sorted(JUDGED)})
    save_answers(folder, "plato", {Q["4"]: "Rivers carry dissolved minerals into the sea."})
    save_answers(folder, "ar", {Q["4"]: ""}, error="timed out after 60 s")
    return folder


def counting(backend: Any) -> tuple[Any, list[str]]:
    """A copy of ``backend`` that records the prompt of each generate request (the text of the state
    it is sent for); each still goes to the real server."""
    counted, requests = copy.copy(backend), []

    def generate(s, *args, **kwargs):
        requests.append(s.text_)
        return backend.generate(s, *args, **kwargs)

    counted.generate = generate
    return counted, requests


def judgement_lines(folder: Path) -> list[Judgement]:
    """Every line of judgements.jsonl (all must be whole records)."""
    return [
        Judgement(**json.loads(line)) for line in (folder / JUDGEMENTS_FILE).read_text(encoding="utf-8").splitlines()
    ]


def judge_counting(folder: Path, backend: Any, pairs=PAIRS) -> tuple[dict, int]:
    """``run_judge`` on ``folder``; returns its outcomes and how many generate requests it sent."""
    counted, requests = counting(backend)
    return run_judge(folder, pairs, counted, progress_bar=False), len(requests)


@pytest.fixture(scope="module")
def judged(tiny_server, tmp_path_factory) -> tuple[Path, dict, int]:
    """The benchmark folder judged once by the tiny server: (folder, outcomes, requests sent)."""
    folder = save_benchmark(tmp_path_factory.mktemp("judged") / "run")
    return (folder, *judge_counting(folder, tiny_server.endpoint()))


@pytest.fixture
def judged_copy(judged, tmp_path) -> Path:
    """A private copy of the judged folder, for tests that change it."""
    return Path(shutil.copytree(judged[0], tmp_path / "run"))


def test_each_pair_is_judged_in_both_orders_with_a_verdict(judged):
    folder, outcomes, requests = judged
    lines = judgement_lines(folder)
    assert len(lines) == 2 * len(JUDGED) * len(PAIRS)
    assert requests == PER_JUDGEMENT * len(lines)  # the regex holds: no retry needed
    seen = Counter((j.question_id, j.pair, j.order) for j in lines)
    assert seen == Counter((q, f"{a}:{b}", o) for q in JUDGED for a, b in PAIRS for o in ("ab", "ba"))
    for j in lines:
        explanation, verdict = j.text[:-5], j.text[-5:]
        assert re.fullmatch(VERDICT_REGEX, verdict) and "[[" not in explanation, j.text
        assert j.verdict == {"A": "A", "B": "B", "C": "tie"}[j.text[-3]]
        # the verdict's probabilities: a distribution over the three verdicts, its greedy choice the most likely
        assert set(j.probabilities) == {"A", "B", "tie"} and sum(j.probabilities.values()) == pytest.approx(1.0)
        assert j.probabilities[j.verdict] == max(j.probabilities.values())
    by_order = {(j.question_id, j.pair, j.order): j.verdict for j in lines}
    assert outcomes == {
        (a, b): {q: combine(by_order[q, f"{a}:{b}", "ab"], by_order[q, f"{a}:{b}", "ba"]) for q in sorted(JUDGED)}
        for a, b in PAIRS
    }


def test_a_second_run_sends_no_request(judged, judged_copy, tiny_server):
    before = (judged_copy / JUDGEMENTS_FILE).read_bytes()
    outcomes, requests = judge_counting(judged_copy, tiny_server.endpoint())
    assert requests == 0
    assert (judged_copy / JUDGEMENTS_FILE).read_bytes() == before
    assert outcomes == judged[1]


def test_a_torn_last_line_is_judged_again_and_kept(judged_copy, tiny_server):
    path = judged_copy / JUDGEMENTS_FILE
    whole = path.read_text(encoding="utf-8")
    path.write_text(whole[: len(whole) - 40], encoding="utf-8")  # a run killed while writing its last judgement
    outcomes, requests = judge_counting(judged_copy, tiny_server.endpoint())
    assert requests == PER_JUDGEMENT
    assert len(judgement_lines(judged_copy)) == 2 * len(JUDGED) * len(PAIRS)  # every line whole again
    assert {pair: set(per) for pair, per in outcomes.items()} == {pair: JUDGED for pair in PAIRS}
    assert judge_counting(judged_copy, tiny_server.endpoint())[1] == 0  # the redone judgement was saved


def test_a_changed_answer_is_judged_again(judged_copy, tiny_server):
    save_answers(judged_copy, "ar", {Q["2"]: "Fifty-one."})  # question 2 re-run by ar
    outcomes, requests = judge_counting(judged_copy, tiny_server.endpoint())
    assert requests == 2 * PER_JUDGEMENT
    new = judgement_lines(judged_copy)[-2:]
    assert {(j.question_id, j.pair, j.order) for j in new} == {("2", "plato:ar", "ab"), ("2", "plato:ar", "ba")}
    by_order = {j.order: j.verdict for j in new}
    assert outcomes[("plato", "ar")]["2"] == combine(by_order["ab"], by_order["ba"])


def test_each_judgement_is_saved_as_it_finishes(tiny_server, tmp_path):
    """One judgement is held back at the client; the others must be on disk before it is let go,
    so an interrupted run keeps every judgement that finished."""
    folder = save_benchmark(tmp_path / "run")
    backend, release = tiny_server.endpoint(), threading.Event()
    held = copy.copy(backend)

    def generate(s, *args, **kwargs):  # hold question 1 with plato's answer shown first
        text = s.text_
        if "plato's answer to question 1." in text and text.index("plato's answer to question 1.") < text.index(
            "ar's answer to question 1."
        ):
            release.wait(600)
        return backend.generate(s, *args, **kwargs)

    held.generate = generate
    runner = threading.Thread(target=run_judge, args=(folder, PAIRS[:1], held), kwargs={"progress_bar": False})
    runner.start()
    try:
        deadline = time.monotonic() + 300
        while (
            len(lines := judgement_lines(folder) if (folder / JUDGEMENTS_FILE).exists() else []) < 5
            and time.monotonic() < deadline
        ):
            time.sleep(0.5)
        assert sorted((j.question_id, j.order) for j in lines) == sorted(
            (q, o) for q in JUDGED for o in ("ab", "ba") if (q, o) != ("1", "ab")
        )
    finally:
        release.set()
        runner.join()
    assert len(judgement_lines(folder)) == 6


def test_failed_requests_are_not_cached_and_the_next_run_retries_them(tiny_server, tmp_path):
    folder = save_benchmark(tmp_path / "run")
    with LocalServer("tiny-random") as doomed:
        gone = doomed.endpoint()
    # The judge server went away (stopped above): every request is refused.
    with pytest.raises(PlatoError, match="6 of 6 judgements failed at the server .* run the judge again"):
        run_judge(folder, PAIRS[:1], gone, progress_bar=False)
    assert (folder / JUDGEMENTS_FILE).read_text() == ""
    outcomes, requests = judge_counting(folder, tiny_server.endpoint(), PAIRS[:1])
    assert requests == 6 * PER_JUDGEMENT and len(judgement_lines(folder)) == 6
    assert set(outcomes[PAIRS[0]]) == JUDGED


def test_without_the_regex_an_unparseable_judgement_is_retried_once_then_no_verdict(openai_backend, tmp_path):
    folder = save_benchmark(tmp_path / "run")
    outcomes, requests = judge_counting(folder, openai_backend, PAIRS[:1])
    lines = judgement_lines(folder)
    assert requests == 2 * len(lines) == 2 * 2 * len(JUDGED)  # each tried twice, saved once
    assert all(j.verdict is None and j.text and "[[" not in j.text for j in lines)  # real text, no verdict
    assert outcomes == {PAIRS[0]: {q: "error" for q in sorted(JUDGED)}}  # never a tie
    assert judge_counting(folder, openai_backend, PAIRS[:1])[1] == 0  # the errors are cached too
    assert main(["report", str(folder)]) == 0
    assert "| plato vs ar | 0 | 0 | 0 | 3 | 0% |" in (folder / "report.md").read_text()  # counted under "no verdict"


def test_the_report_has_net_win_rates_and_their_plot(judged, judged_copy, capsys):
    assert main(["report", str(judged_copy)]) == 0
    report = (judged_copy / "report.md").read_text()
    assert capsys.readouterr().out.strip() == str(judged_copy / "report.md")
    assert "| pair | wins | ties | losses | no verdict | net win rate |" in report
    for (a, b), per_question in judged[1].items():
        t = tally(per_question.values())
        assert f"| {a} vs {b} | {t.wins} | {t.ties} | {t.losses} | 0 | {t.net_win_rate:.0%} |" in report
    verdicts = [j.verdict for j in judgement_lines(judged_copy)]
    first, decided = verdicts.count("A"), verdicts.count("A") + verdicts.count("B")
    assert f"preferred the answer shown first in {first} of the {decided} judgements that preferred one" in report
    assert "Net win rate per category:" in report
    assert re.search(r"^\| math \| -?\d+% \| -?\d+% \|$", report, re.M)
    assert "![wins, ties and losses per pair](win_rates.png)" in report
    assert (judged_copy / "win_rates.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_folder_judged_by_two_judges_reports_each_on_its_own(judged, judged_copy):
    first_judge = judgement_lines(judged_copy)[0].judge
    rows = load_rows(judged_copy)
    with (judged_copy / JUDGEMENTS_FILE).open(
        "a", encoding="utf-8"
    ) as f:  # a second judge: the first method wins everywhere
        for a, b in PAIRS:
            for q in sorted(JUDGED):
                question, answers = Q[q].text, {m: rows[m][q].result.answer for m in (a, b)}
                for order, (x, y), verdict in (("ab", (a, b), "A"), ("ba", (b, a), "B")):
                    key = cache_key(question, answers[x], answers[y], "second-judge", "pair-v2")
                    f.write(
                        json.dumps(
                            asdict(Judgement(key, q, f"{a}:{b}", order, "second-judge", verdict, f"[[{verdict}]]"))
                        )
                        + "\n"
                    )
    assert main(["report", str(judged_copy)]) == 0
    report = (judged_copy / "report.md").read_text()
    sections = dict(re.findall(r"^Judge: `(.+?)`(.*?)(?=^Judge: |\Z)", report, re.M | re.S))
    assert set(sections) == {first_judge, "second-judge"}
    first, second = sections[first_judge], sections["second-judge"]
    for (a, b), per_question in judged[1].items():  # the first judge's counts, unchanged by the second's
        t = tally(per_question.values())
        assert f"| {a} vs {b} | {t.wins} | {t.ties} | {t.losses} | 0 | {t.net_win_rate:.0%} |" in first
        assert f"| {a} vs {b} | 3 | 0 | 0 | 0 | 100% |" in second
    assert "preferred the answer shown first in 6 of the 12 judgements that preferred one (50%" in second
    plots = [re.findall(r"\]\((win_rates\S*\.png)\)", section) for section in (first, second)]
    assert sorted(plots) == [["win_rates_1.png"], ["win_rates_2.png"]]  # a plot each, neither overwrites the other
    plots = [p for (p,) in plots]
    assert all((judged_copy / p).read_bytes()[:4] == b"\x89PNG" for p in plots)


def test_a_verdict_only_judge_asks_once_a_judgement_and_is_reported_as_a_judge_of_its_own(
    judged, judged_copy, tiny_server
):
    """``pair-v2-verdict`` on SGLang's runtime: one request a judgement (the verdict, decoded right
    after the prompt under the regex, with its probabilities), cached under keys of its own beside
    pair-v2's; the report has a section for each; the CLI's --judge-prompt finds them cached."""
    backend = tiny_server.endpoint()
    asking, prompts = counting(backend)
    before = judgement_lines(judged_copy)
    outcomes = run_judge(judged_copy, PAIRS, asking, progress_bar=False, prompt_name="pair-v2-verdict")
    new = judgement_lines(judged_copy)[len(before) :]
    assert len(prompts) == len(new) == len(before)  # every judgement again, one request each
    assert all(
        "Output only your final verdict, with no explanation" in p and "provide a short explanation" not in p
        for p in prompts
    )
    assert all(p.endswith("<|im_start|>assistant\n") for p in prompts)  # nothing written before the verdict
    assert {j.prompt for j in before} == {"pair-v2"} and {j.prompt for j in new} == {"pair-v2-verdict"}
    assert not {j.key for j in before} & {j.key for j in new}
    for j in new:
        assert re.fullmatch(VERDICT_REGEX, j.text) and j.verdict == {"A": "A", "B": "B", "C": "tie"}[j.text[2]]
        assert sum(j.probabilities.values()) == pytest.approx(1.0) and j.probabilities[j.verdict] == max(
            j.probabilities.values()
        )
    by_order = {(j.question_id, j.pair, j.order): j.verdict for j in new}
    assert outcomes == {
        (a, b): {q: combine(by_order[q, f"{a}:{b}", "ab"], by_order[q, f"{a}:{b}", "ba"]) for q in sorted(JUDGED)}
        for a, b in PAIRS
    }
    assert judge_counting(judged_copy, backend)[1] == 0  # pair-v2's judgements are still there, untouched

    cached = (judged_copy / JUDGEMENTS_FILE).read_bytes()
    assert (
        main(
            [
                "judge",
                str(judged_copy),
                "--pairs",
                "plato:ar,plato:sot",
                "--judge-url",
                tiny_server.url,
                "--chat-template",
                "chatml",
                "--judge-prompt",
                "pair-v2-verdict",
            ]
        )
        == 0
    )
    assert (judged_copy / JUDGEMENTS_FILE).read_bytes() == cached
    report = (judged_copy / "report.md").read_text()
    judge = before[0].judge
    sections = dict(re.findall(r"^Judge: `(.+?)`(.*?)(?=^Judge: |\Z)", report, re.M | re.S))
    assert set(sections) == {judge, f"{judge}, pair-v2-verdict"}
    assert f"--judge-model {judge} --judge-prompt pair-v2-verdict`" in sections[f"{judge}, pair-v2-verdict"]
    for (a, b), per_question in outcomes.items():
        t = tally(per_question.values())
        assert (
            f"| {a} vs {b} | {t.wins} | {t.ties} | {t.losses} | 0 | {t.net_win_rate:.0%} |"
            in sections[f"{judge}, pair-v2-verdict"]
        )


SANITY = {
    Question("1", "Why is the sky blue?", "knowledge"): (
        "Sunlight contains every colour. Air molecules scatter short wavelengths much more strongly than long "
        "ones (Rayleigh scattering), so blue light is scattered across the whole sky and reaches our eyes from "
        "every direction, while most red and yellow light passes straight through.",
        "",
    ),
    Question("2", "How many days are there in a leap year?", "math"): (
        "A leap year has 366 days: February gets a 29th day.",
        "Bananas are a good source of potassium and can be eaten raw or baked into bread.",
    ),
    Question("3", "Write a Python function that returns the square of a number.", "coding"): (
        "```python\ndef square(x):\n    return x * x\n```\n`square(4)` returns 16.",
        "The Eiffel Tower was completed in 1889 for the World's Fair in Paris.",
    ),
}


@pytest.mark.smoke
def test_a_real_judge_prefers_a_real_answer_to_an_empty_or_off_topic_one(judge_server, tmp_path):
    save_answers(tmp_path, "real", {q: real for q, (real, _) in SANITY.items()})
    save_answers(tmp_path, "bad", {q: bad for q, (_, bad) in SANITY.items()})
    # all judgements in one batch: on the CPU a decoding step of 6 sequences costs about one of 4
    outcomes = run_judge(
        tmp_path, [("real", "bad")], judge_server.endpoint(), num_threads=2 * len(SANITY), progress_bar=False
    )
    said = "\n".join(f"{j.question_id} {j.order}: {j.text}" for j in judgement_lines(tmp_path))
    assert outcomes == {("real", "bad"): {"1": "win", "2": "win", "3": "win"}}, said


def test_judgements_cached_before_probabilities_load_and_get_them_from_their_explanation(
    judged, judged_copy, tiny_server
):
    """A judgements.jsonl written before probabilities were read (no such field) still loads under the
    same keys; a run on SGLang's runtime asks only for each verdict again, after the cached
    explanation, and keeps the explanation."""
    path = judged_copy / JUDGEMENTS_FILE
    new = judgement_lines(judged_copy)
    old_lines = []
    for j in new:
        record = asdict(j)
        del record["probabilities"]
        old_lines.append(json.dumps(record))
    path.write_text("\n".join(old_lines) + "\n", encoding="utf-8")
    assert all(j.probabilities is None for j in judgement_lines(judged_copy))
    records = pair_records(judged_copy, PAIRS, new[0].judge)
    assert {pair: [r.outcome for r in per] for pair, per in records.items()} == {
        pair: [judged[1][pair][q] for q in sorted(JUDGED)] for pair in PAIRS
    }
    assert all(r.preference is None for per in records.values() for r in per)

    outcomes, requests = judge_counting(judged_copy, tiny_server.endpoint())
    assert requests == len(new)  # one verdict request per judgement, no new explanation
    lines = judgement_lines(judged_copy)
    assert len(lines) == 2 * len(new)  # re-read judgements appended; the later line wins
    reread = {j.key: j for j in lines[len(new) :]}
    for j in new:
        again = reread[j.key]
        assert again.text[:-5] == j.text[:-5] and again.probabilities is not None
        assert again.verdict == j.verdict and again.probabilities == pytest.approx(
            j.probabilities, abs=1e-3
        )  # the same reading, up to batching numerics
    assert outcomes == judged[1]
    assert judge_counting(judged_copy, tiny_server.endpoint())[1] == 0


def test_pair_records_hold_the_debiased_and_position_preferences(judged):
    from plato_sgl.evaluation.verdicts import debiased_preference, position_preference

    folder, outcomes, _ = judged
    lines = judgement_lines(folder)
    by_order = {(j.question_id, j.pair, j.order): j for j in lines}
    records = pair_records(folder, PAIRS, lines[0].judge)
    assert set(records) == set(PAIRS)
    for (a, b), per in records.items():
        assert [r.question_id for r in per] == sorted(JUDGED)
        for r in per:
            ab, ba = by_order[r.question_id, f"{a}:{b}", "ab"], by_order[r.question_id, f"{a}:{b}", "ba"]
            assert r.outcome == outcomes[(a, b)][r.question_id]
            assert r.preference == pytest.approx(debiased_preference(ab.probabilities, ba.probabilities))
            assert r.position == pytest.approx(position_preference(ab.probabilities, ba.probabilities))
            assert (r.words, r.other_words) == (len(f"{a}'s answer to question {r.question_id}.".split()),) * 2
            assert r.length_ratio == 1.0


def test_the_judge_command_prints_hard_and_debiased_figures(judged, judged_copy, tiny_server, capsys):
    from plato_sgl.evaluation.report import pair_summaries

    judge = judgement_lines(judged_copy)[0].judge
    before = (judged_copy / JUDGEMENTS_FILE).read_bytes()
    assert (
        main(
            [
                "judge",
                str(judged_copy),
                "--pairs",
                "plato:ar",
                "--judge-url",
                tiny_server.url,
                "--chat-template",
                "chatml",
            ]
        )
        == 0
    )
    assert (judged_copy / JUDGEMENTS_FILE).read_bytes() == before  # all cached
    summary = pair_summaries(judged_copy, judge, [("plato", "ar")])[("plato", "ar")][0]
    t = tally(judged[1][("plato", "ar")].values())
    assert (
        f"plato vs ar: {t.wins} wins, {t.ties} ties, {t.losses} losses -> net win rate {t.net_win_rate:+.0%}; "
        f"debiased net preference {summary.debiased:+.0%}, debiased net win {summary.debiased_net:+.0%}"
    ) in capsys.readouterr().out
    assert "Judged with `plato-sgl judge" in (judged_copy / "report.md").read_text()
