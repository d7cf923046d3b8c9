"""``plato-sgl judge``: pairwise LLM judging of saved benchmark answers, cached on disk.

Each (question, pair of methods) is judged twice, answers swapped (evaluation.combine). Every
judgement is appended to ``judgements.jsonl`` under a key of (question, answer A, answer B, judge,
prompt format), so a re-run is free and an interrupted run resumes. On SGLang's own runtime the
judge writes an explanation (enforced, and ended where it likes) and then a verdict under a regex,
so there always is one; elsewhere (OpenAI-style APIs) an unparseable judgement is retried once and
then recorded as an error, never as a tie. A judgement whose request fails (the judge server went
away) is not recorded, and the next run retries it.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import sglang as sgl
from tqdm import tqdm

from plato_sgl.backends import is_sglang_runtime, model_name
from plato_sgl.bench import JUDGEMENTS_FILE, drop_torn_tail, load_rows
from plato_sgl.errors import PlatoError
from plato_sgl.evaluation import Tally, combine, judge_prompt, parse_verdict, tally

# Explanation, then the verdict: what the pair-v2 prompt asks for, enforced on SGLang's runtime in
# two steps. The explanation (no brackets: left alone, Qwen2.5-Coder-1.5B writes a bare verdict and
# no reasoning) ends at the judge's end of turn or JUDGE_MAX_TOKENS; then the verdict is decoded.
# One regex over both would forbid the end of turn until a verdict: that judge then rambled on to
# the length cap, where the forced verdict was a near-random letter (often [[C]], a tie).
EXPLANATION_REGEX = r"[^\[\]]+"
VERDICT_REGEX = r"\[\[(A|B|C)\]\]"
JUDGE_MAX_TOKENS = 640
# A judge call holds the question and two whole answers (up to about 4,400 tokens with Plato's
# long answers on Vicuna-80) and the explanation. A local judge's KV pool fits ``num_threads`` calls
# so that they decode as one batch: in the servers' default 8192 tokens two fit and the rest queued.
JUDGE_CALL_TOKENS = 4480 + JUDGE_MAX_TOKENS


def judge_pool_tokens(num_threads: int) -> int:
    """KV-pool tokens (``--max-total-tokens``) for a local judge server running ``num_threads`` calls."""
    return max(8192, num_threads * JUDGE_CALL_TOKENS)


@sgl.function
def judge_pair(s, system: str, prompt: str, constrained: bool = False, max_tokens: int = JUDGE_MAX_TOKENS):
    """Ask the judge to compare two answers; its text lands in ``judgement``. ``constrained`` (SGLang's
    runtime only): the text is an explanation, and the ``verdict`` follows under VERDICT_REGEX."""
    s += sgl.system(system)
    s += sgl.user(prompt)
    s += sgl.assistant_begin()
    s += sgl.gen("judgement", regex=EXPLANATION_REGEX if constrained else None, max_tokens=max_tokens, temperature=0.0)
    if constrained:
        s += sgl.gen("verdict", regex=VERDICT_REGEX, max_tokens=8, temperature=0.0)
    s += sgl.assistant_end()


@dataclass
class Judgement:
    """One judge call: which question and pair, which order, and what the judge said."""

    key: str
    question_id: str
    pair: str  # "plato:ar": the first method is A in order "ab"
    order: str  # "ab" or "ba"
    judge: str
    verdict: str | None  # A, B, tie; None: no verdict after the retry
    text: str


def cache_key(question: str, answer_a: str, answer_b: str, judge: str, prompt_name: str) -> str:
    blob = json.dumps([question, answer_a, answer_b, judge, prompt_name], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def load_judgements(folder: str | Path) -> dict[str, Judgement]:
    path = Path(folder) / JUDGEMENTS_FILE
    if not path.exists():
        return {}
    judgements = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            j = Judgement(**json.loads(line))
        except (json.JSONDecodeError, TypeError):
            continue  # a torn last line of an interrupted run: that judgement is simply redone
        judgements[j.key] = j
    return judgements


def run_judge(
    folder: str | Path,
    pairs: Sequence[tuple[str, str]],
    backend: Any,
    *,
    prompt_name: str = "pair-v2",
    num_threads: int = 4,
    progress_bar: bool = True,
) -> dict[tuple[str, str], dict[str, str]]:
    """Judge every pair on every question both methods answered, ``num_threads`` judgements at a
    time, each saved as it finishes; returns outcomes per pair per question."""
    folder = Path(folder)
    rows = load_rows(folder)
    prompt = judge_prompt(prompt_name)
    judge = model_name(backend)  # part of every cache key
    constrained = is_sglang_runtime(backend)
    cached = load_judgements(folder)

    wanted: list[Judgement] = []
    calls: dict[str, dict[str, Any]] = {}
    for first, second in pairs:
        for method in (first, second):
            if method not in rows:
                raise ValueError(f"no results for method {method!r} in {folder} (have: {', '.join(rows)})")
        ids = sorted(set(q for q, r in rows[first].items() if r.result.ok) & set(q for q, r in rows[second].items() if r.result.ok))
        for qid in ids:
            question = rows[first][qid].question.text
            answers = {first: rows[first][qid].result.answer, second: rows[second][qid].result.answer}
            for order, (a, b) in (("ab", (first, second)), ("ba", (second, first))):
                key = cache_key(question, answers[a], answers[b], judge, prompt_name)
                if key not in cached and key not in calls:
                    calls[key] = {"system": prompt.system, "prompt": prompt.render(question, answers[a], answers[b]),
                                  "constrained": constrained}
                    wanted.append(Judgement(key, qid, f"{first}:{second}", order, judge, None, ""))

    path = folder / JUDGEMENTS_FILE
    drop_torn_tail(path)  # else the first new judgement is glued to an interrupted run's torn line, and lost
    failed: dict[str, str] = {}  # key -> the server's error: not saved, the next run retries it
    pool = ThreadPoolExecutor(max_workers=num_threads)
    try:
        with path.open("a", encoding="utf-8") as f:
            futures = [pool.submit(_ask, judgement, calls[judgement.key], backend, constrained) for judgement in wanted]
            done = as_completed(futures)
            if progress_bar and futures:  # even a disabled tqdm starts its monitor thread, which outlives the run
                done = tqdm(done, total=len(futures), unit="judgement")
            for future in done:  # each judgement saved as it finishes: an interrupt loses none
                judgement, error = future.result()
                if error is not None:
                    failed[judgement.key] = error
                    continue
                f.write(json.dumps(asdict(judgement), ensure_ascii=False) + "\n")
                f.flush()
    finally:  # after an interrupt, don't wait for the judgements in flight: cancel the rest and go
        pool.shutdown(wait=False, cancel_futures=True)
    if failed:
        raise PlatoError(f"{len(failed)} of {len(wanted)} judgements failed at the server (first: {next(iter(failed.values()))}); "
                         f"the other judgements are saved in {path}: run the judge again to retry the failed ones")
    return outcomes(folder, pairs, judge, prompt_name)


def _ask(judgement: Judgement, call: dict[str, Any], backend: Any, constrained: bool) -> tuple[Judgement, str | None]:
    """Ask the judge, and once more if its text holds no verdict; fills in ``judgement``'s text and
    verdict. Returns it with the server's error if a request failed (then nothing is filled in)."""
    for _ in range(2):
        state = judge_pair.run(**call, backend=backend)  # SGLang sends the requests from its own thread
        if state.error():
            return judgement, str(state.error())
        judgement.text = state["judgement"] + (state["verdict"] if constrained else "")
        judgement.verdict = parse_verdict(judgement.text)
        if judgement.verdict is not None:
            break
    return judgement, None


def current_judgements(folder: str | Path, pairs: Sequence[tuple[str, str]], judge: str,
                       prompt_name: str = "pair-v2") -> dict[tuple[str, str], dict[str, tuple[Judgement, Judgement]]]:
    """Per pair, per question: ``judge``'s two judgements (order ab, order ba) of the current answers,
    where both are cached (an answer re-run since is judged again). One judge at a time: the
    verdicts of two judges on a question are not one outcome."""
    folder = Path(folder)
    rows = load_rows(folder)
    judgements = load_judgements(folder)
    result: dict[tuple[str, str], dict[str, tuple[Judgement, Judgement]]] = {}
    for first, second in pairs:
        per_question = {}
        for qid in sorted(set(rows.get(first, {})) & set(rows.get(second, {}))):
            question = rows[first][qid].question.text
            a, b = rows[first][qid].result.answer, rows[second][qid].result.answer
            ab = judgements.get(cache_key(question, a, b, judge, prompt_name))
            ba = judgements.get(cache_key(question, b, a, judge, prompt_name))
            if ab and ba:
                per_question[qid] = (ab, ba)
        if per_question:
            result[(first, second)] = per_question
    return result


def outcomes(folder: str | Path, pairs: Sequence[tuple[str, str]], judge: str, prompt_name: str = "pair-v2") -> dict[tuple[str, str], dict[str, str]]:
    """Per pair, per question: win/tie/loss for the first method by ``judge``, or 'error' (a judgement had no verdict)."""
    return outcomes_of(current_judgements(folder, pairs, judge, prompt_name))


def outcomes_of(current: dict[tuple[str, str], dict[str, tuple[Judgement, Judgement]]]) -> dict[tuple[str, str], dict[str, str]]:
    """``outcomes`` from what ``current_judgements`` returned."""
    return {
        pair: {qid: "error" if None in (ab.verdict, ba.verdict) else combine(ab.verdict, ba.verdict) for qid, (ab, ba) in per_question.items()}
        for pair, per_question in current.items()
    }


def tallies(folder: str | Path, pair_outcomes: dict[tuple[str, str], dict[str, str]]) -> dict[tuple[str, str], dict[str, Tally]]:
    """Win/tie/loss counts per pair, overall ('all') and per category; errors are left out."""
    rows = load_rows(folder)
    result = {}
    for (first, second), per_question in pair_outcomes.items():
        by_category: dict[str, list[str]] = {"all": []}
        for qid, outcome in per_question.items():
            if outcome == "error":
                continue
            by_category["all"].append(outcome)
            category = rows[first][qid].question.category
            if category is not None:
                by_category.setdefault(category, []).append(outcome)
        result[(first, second)] = {c: tally(o) for c, o in by_category.items()}
    return result
