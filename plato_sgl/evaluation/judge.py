"""``plato-sgl judge``: pairwise LLM judging of saved benchmark answers, cached on disk.

Each (question, pair of methods) is judged twice, answers swapped (evaluation.combine). Every
judgement is appended to ``judgements.jsonl`` under a key of (question, answer A, answer B, judge,
prompt format), so a re-run is free and an interrupted run resumes. On SGLang's own runtime the
judge writes an explanation (enforced, and ended where it likes) and then a verdict under a regex,
so there always is one, and the verdict is also read as probabilities (P(A), P(B), P(tie) at the
verdict letter), from which ``evaluation.debiased_preference`` averages out the judge's preference
for a position. With the ``pair-v2-verdict`` prompt the judge writes no explanation: its verdict is
decoded right after the prompt (one prefill a judgement), and it is a judge of its own in reports
(``judges_of``). A judgement cached before probabilities were read keeps its key and still loads;
on SGLang's runtime the next run reads its verdict's probabilities from its cached explanation (one
short request, no new explanation). Elsewhere (OpenAI-style APIs) an unparseable judgement is
retried once and then recorded as an error, never as a tie. A judgement whose request fails (the
judge server went away) is not recorded, and the next run retries it.
"""

from __future__ import annotations

import hashlib
import json
import math
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import sglang as sgl
from tqdm import tqdm

from plato_sgl.core.errors import PlatoError
from plato_sgl.engine.backend import is_sglang_runtime, model_name
from plato_sgl.evaluation.records import JUDGEMENTS_FILE, drop_torn_tail, load_rows
from plato_sgl.evaluation.verdicts import (
    DEFAULT_PROMPT,
    VERDICTS,
    Probabilities,
    Tally,
    combine,
    debiased_preference,
    judge_prompt,
    parse_verdict,
    position_preference,
    tally,
)

# Explanation, then the verdict: what the pair-v2 prompt asks for, enforced on SGLang's runtime in
# two steps. The explanation (no brackets, so a small judge cannot skip its reasoning with a bare
# verdict) ends at the judge's end of turn or JUDGE_MAX_TOKENS; then the verdict is decoded. One
# regex over both would forbid the end of turn until a verdict, and a judge held there rambles on
# to the length cap, where a forced verdict is close to random.
EXPLANATION_REGEX = r"[^\[\]]+"
VERDICT_REGEX = r"\[\[(A|B|C)\]\]"
# Alternatives returned per verdict token: under the regex only tokens that fit it have a probability,
# at the letter A, B, C (and any tokens that start with one), so a few are all there are.
VERDICT_TOP_LOGPROBS = 10
JUDGE_MAX_TOKENS = 640
# A judge call holds the question and two whole answers (up to about 4,400 tokens with Plato's
# long answers on Vicuna-80) and the explanation. A local judge's KV pool fits ``num_threads`` calls
# so that they decode as one batch: in the servers' default 8192 tokens two fit and the rest queued.
JUDGE_CALL_TOKENS = 4480 + JUDGE_MAX_TOKENS


def judge_pool_tokens(num_threads: int) -> int:
    """KV-pool tokens (``--max-total-tokens``) for a local judge server running ``num_threads`` calls."""
    return max(8192, num_threads * JUDGE_CALL_TOKENS)


@sgl.function
def judge_pair(
    s,
    system: str,
    prompt: str,
    constrained: bool = False,
    max_tokens: int = JUDGE_MAX_TOKENS,
    explanation: str | None = None,
):
    """Ask the judge to compare two answers; its text lands in ``judgement``. ``constrained`` (SGLang's
    runtime only): the text is an explanation, and the ``verdict`` follows under VERDICT_REGEX, with
    the logprobs of the alternatives at each of its tokens (``verdict_probabilities`` reads them).
    ``explanation``: a cached judgement's explanation, given instead of writing one (constrained only),
    so only its verdict is asked for again."""
    s += sgl.system(system)
    s += sgl.user(prompt)
    s += sgl.assistant_begin()
    if explanation is None:
        s += sgl.gen(
            "judgement", regex=EXPLANATION_REGEX if constrained else None, max_tokens=max_tokens, temperature=0.0
        )
    else:
        s += explanation
    if constrained:
        s += sgl.gen(
            "verdict",
            regex=VERDICT_REGEX,
            max_tokens=8,
            temperature=0.0,
            return_logprob=True,
            top_logprobs_num=VERDICT_TOP_LOGPROBS,
            return_text_in_logprobs=True,
        )
    s += sgl.assistant_end()


def verdict_probabilities(top_logprobs: Sequence[Sequence[Sequence[Any]] | None]) -> Probabilities | None:
    """P(A), P(B), P(tie) from a constrained verdict's ``output_top_logprobs`` (per generated
    position, ``(logprob, token id, text)`` alternatives), or None when no position offers a letter.

    Under VERDICT_REGEX every token that does not fit has no probability (SGLang reports its logprob
    as about -3.4e38), so at the position where the letter is chosen the alternatives are the tokens
    that start a letter ("A", or "A]]" where the tokenizer has one), renormalized over what fits:
    the model's own probabilities of its three verdicts. The first position with a letter among its
    alternatives is that position; each alternative counts for the letter it starts with after any
    "[" (a token "[[A" chooses A)."""
    letters = {"A": "A", "B": "B", "C": "tie"}
    for alternatives in top_logprobs:
        mass: dict[str, float] = {}
        for logprob, _token, text in alternatives or ():
            if logprob is None or logprob < -1e30:  # ruled out by the regex
                continue
            letter = letters.get((text or "").lstrip("[")[:1])
            if letter is not None:
                mass[letter] = mass.get(letter, 0.0) + math.exp(logprob)
        if mass:
            total = sum(mass.values())
            return {v: mass.get(v, 0.0) / total for v in ("A", "B", "tie")}
    return None


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
    # P(A), P(B), P(tie) at the verdict (SGLang's runtime); None: cached before they were read, or a
    # judge that gives none (OpenAI-style APIs)
    probabilities: Probabilities | None = None
    prompt: str = DEFAULT_PROMPT  # the prompt format (judgements cached before it was recorded: pair-v2)


def judges_of(judgements: Iterable[Judgement]) -> list[tuple[str, str]]:
    """The (judge model, prompt format) combinations among ``judgements``: each is a judge of its own,
    reported on its own (the same model asked for a verdict alone judges differently)."""
    return sorted({(j.judge, j.prompt) for j in judgements})


def judge_label(judge: str, prompt_name: str = DEFAULT_PROMPT) -> str:
    """How reports name a judge: its model, and its prompt format when that is not the default."""
    return judge if prompt_name == DEFAULT_PROMPT else f"{judge}, {prompt_name}"


def judge_flags(judge: str, prompt_name: str = DEFAULT_PROMPT) -> str:
    """The command-line flags that judge with this model and prompt format."""
    return f"--judge-model {judge}" + ("" if prompt_name == DEFAULT_PROMPT else f" --judge-prompt {prompt_name}")


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
    prompt_name: str = DEFAULT_PROMPT,
    num_threads: int = 4,
    progress_bar: bool = True,
) -> dict[tuple[str, str], dict[str, str]]:
    """Judge every pair on every question both methods answered, ``num_threads`` judgements at a
    time, each saved as it finishes; returns outcomes per pair per question. On SGLang's runtime a
    cached judgement without probabilities has them read from its cached explanation (and is saved
    again, the later line winning)."""
    folder = Path(folder)
    rows = load_rows(folder)
    prompt = judge_prompt(prompt_name)
    judge = model_name(backend)  # part of every cache key
    constrained = is_sglang_runtime(backend)
    verdict_only = constrained and not prompt.explains  # no explanation: the verdict is decoded at once
    cached = load_judgements(folder)

    wanted: list[Judgement] = []
    calls: dict[str, dict[str, Any]] = {}
    for first, second in pairs:
        for method in (first, second):
            if method not in rows:
                raise ValueError(f"no results for method {method!r} in {folder} (have: {', '.join(rows)})")
        ids = sorted(
            set(q for q, r in rows[first].items() if r.result.ok)
            & set(q for q, r in rows[second].items() if r.result.ok)
        )
        for qid in ids:
            question = rows[first][qid].question.text
            answers = {first: rows[first][qid].result.answer, second: rows[second][qid].result.answer}
            for order, (a, b) in (("ab", (first, second)), ("ba", (second, first))):
                key = cache_key(question, answers[a], answers[b], judge, prompt_name)
                if key in calls:
                    continue
                old = cached.get(key)
                explanation = _cached_explanation(old) if constrained and old is not None else None
                if old is None or explanation is not None:
                    explanation = "" if verdict_only else explanation
                    calls[key] = {
                        "system": prompt.system,
                        "prompt": prompt.render(question, answers[a], answers[b]),
                        "constrained": constrained,
                        "explanation": explanation,
                    }
                    wanted.append(
                        Judgement(
                            key, qid, f"{first}:{second}", order, judge, None, explanation or "", prompt=prompt_name
                        )
                    )

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
        raise PlatoError(
            f"{len(failed)} of {len(wanted)} judgements failed at the server (first: {next(iter(failed.values()))}); "
            f"the other judgements are saved in {path}: run the judge again to retry the failed ones"
        )
    return outcomes(folder, pairs, judge, prompt_name)


def _cached_explanation(judgement: Judgement) -> str | None:
    """The explanation of a cached constrained judgement whose verdict's probabilities were not read
    (it ends in its verdict mark), to read them from; None when there is nothing to re-read."""
    if judgement.probabilities is not None or judgement.verdict is None:
        return None
    mark = next((m for m, v in VERDICTS.items() if v == judgement.verdict), None)
    if mark is None or not judgement.text.endswith(mark):
        return None
    return judgement.text[: -len(mark)]


def _ask(judgement: Judgement, call: dict[str, Any], backend: Any, constrained: bool) -> tuple[Judgement, str | None]:
    """Ask the judge, and once more if its text holds no verdict; fills in ``judgement``'s text,
    verdict and (constrained) its probabilities. With ``call["explanation"]`` only the verdict is
    asked for. Returns it with the server's error if a request failed (then nothing is filled in)."""
    for _ in range(2):
        state = judge_pair.run(**call, backend=backend)  # SGLang sends the requests from its own thread
        if state.error():
            return judgement, str(state.error())
        explanation = call.get("explanation")
        explanation = state["judgement"] if explanation is None else explanation
        judgement.text = explanation + (state["verdict"] if constrained else "")
        judgement.verdict = parse_verdict(judgement.text)
        if constrained:
            judgement.probabilities = verdict_probabilities(
                state.get_meta_info("verdict").get("output_top_logprobs") or []
            )
        if judgement.verdict is not None:
            break
    return judgement, None


def current_judgements(
    folder: str | Path, pairs: Sequence[tuple[str, str]], judge: str, prompt_name: str = DEFAULT_PROMPT
) -> dict[tuple[str, str], dict[str, tuple[Judgement, Judgement]]]:
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


def outcomes(
    folder: str | Path, pairs: Sequence[tuple[str, str]], judge: str, prompt_name: str = DEFAULT_PROMPT
) -> dict[tuple[str, str], dict[str, str]]:
    """Per pair, per question: win/tie/loss for the first method by ``judge``, or 'error' (a judgement had no verdict)."""
    return outcomes_of(current_judgements(folder, pairs, judge, prompt_name))


def outcomes_of(
    current: dict[tuple[str, str], dict[str, tuple[Judgement, Judgement]]],
) -> dict[tuple[str, str], dict[str, str]]:
    """``outcomes`` from what ``current_judgements`` returned."""
    return {
        pair: {
            qid: "error" if None in (ab.verdict, ba.verdict) else combine(ab.verdict, ba.verdict)
            for qid, (ab, ba) in per_question.items()
        }
        for pair, per_question in current.items()
    }


def tallies(
    folder: str | Path, pair_outcomes: dict[tuple[str, str], dict[str, str]]
) -> dict[tuple[str, str], dict[str, Tally]]:
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


@dataclass(frozen=True)
class PairRecord:
    """One question of one judged pair, for the report: the both-orders outcome, the debiased and
    position preferences (None without probabilities in both orders), and the answers' lengths."""

    question_id: str
    category: str | None
    outcome: str  # win, tie, loss for the pair's first method; error: a judgement without a verdict
    preference: float | None
    position: float | None
    words: int
    other_words: int

    @property
    def length_ratio(self) -> float:
        """Words of the first method's answer / words of the second's (an empty answer counts 1 word)."""
        return (self.words + 1) / (self.other_words + 1)


def pair_records(
    folder: str | Path, pairs: Sequence[tuple[str, str]], judge: str, prompt_name: str = DEFAULT_PROMPT
) -> dict[tuple[str, str], list[PairRecord]]:
    """Per pair, one record per question ``judge`` judged in both orders, in question order."""

    rows = load_rows(folder)
    current = current_judgements(folder, pairs, judge, prompt_name)
    result = {}
    for (first, second), per_question in current.items():
        records = []
        for qid, (ab, ba) in sorted(
            per_question.items(),
            key=lambda item: (not item[0].isdigit(), int(item[0]) if item[0].isdigit() else 0, item[0]),
        ):
            probs = ab.probabilities is not None and ba.probabilities is not None
            outcome = "error" if None in (ab.verdict, ba.verdict) else combine(ab.verdict, ba.verdict)
            records.append(
                PairRecord(
                    qid,
                    rows[first][qid].question.category,
                    outcome,
                    debiased_preference(ab.probabilities, ba.probabilities) if probs else None,
                    position_preference(ab.probabilities, ba.probabilities) if probs else None,
                    len(rows[first][qid].result.answer.split()),
                    len(rows[second][qid].result.answer.split()),
                )
            )
        result[(first, second)] = records
    return result
