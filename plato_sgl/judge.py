"""``plato-sgl judge``: pairwise LLM judging of saved benchmark answers, cached on disk.

Each (question, pair of methods) is judged twice, answers swapped (evaluation.combine). Every
judgement is appended to ``judgements.jsonl`` under a key of (question, answer A, answer B, judge,
prompt format), so a re-run is free and an interrupted run resumes. On SGLang's own runtime the
judgement is decoded under a regex that ends in a verdict; elsewhere (OpenAI-style APIs) an
unparseable judgement is retried once and then recorded as an error, never as a tie.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import sglang as sgl

from plato_sgl.bench import JUDGEMENTS_FILE, load_rows
from plato_sgl.evaluation import Tally, combine, judge_prompt, parse_verdict, tally
from plato_sgl.executor import is_sglang_runtime

# Explanation, then the verdict: what the pair-v2 prompt asks for, enforced. Every token is at
# least one character, so with JUDGE_MAX_TOKENS > 600 + 5 the verdict is always reached.
VERDICT_REGEX = r"[^\[\]]{1,600}\[\[(A|B|C)\]\]"
JUDGE_MAX_TOKENS = 640


@sgl.function
def judge_pair(s, system: str, prompt: str, regex: str | None = None, max_tokens: int = JUDGE_MAX_TOKENS):
    """Ask the judge to compare two answers; its text (with the verdict) lands in ``judgement``."""
    s += sgl.system(system)
    s += sgl.user(prompt)
    s += sgl.assistant(sgl.gen("judgement", regex=regex, max_tokens=max_tokens, temperature=0.0))


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


def judge_name(backend: Any) -> str:
    endpoint = getattr(backend, "endpoint", backend)
    get_model = getattr(endpoint, "get_model_name", None)
    return get_model() if get_model else getattr(endpoint, "model_name", type(endpoint).__name__)


def run_judge(
    folder: str | Path,
    pairs: Sequence[tuple[str, str]],
    backend: Any,
    *,
    prompt_name: str = "pair-v2",
    num_threads: int = 4,
    chunk: int = 16,
    progress_bar: bool = True,
) -> dict[tuple[str, str], dict[str, str]]:
    """Judge every pair on every question both methods answered; returns outcomes per pair per question."""
    folder = Path(folder)
    rows = load_rows(folder)
    prompt = judge_prompt(prompt_name)
    judge = judge_name(backend)
    regex = VERDICT_REGEX if is_sglang_runtime(backend) else None
    cached = load_judgements(folder)

    wanted: list[Judgement] = []
    calls: dict[str, dict[str, str]] = {}
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
                    calls[key] = {"system": prompt.system, "prompt": prompt.render(question, answers[a], answers[b]), "regex": regex}
                    wanted.append(Judgement(key, qid, f"{first}:{second}", order, judge, None, ""))

    with (folder / JUDGEMENTS_FILE).open("a", encoding="utf-8") as f:
        for attempt in (1, 2):  # the second pass retries judgements without a verdict, once
            todo = [j for j in wanted if j.verdict is None]
            for start in range(0, len(todo), chunk):
                batch = todo[start : start + chunk]
                states = judge_pair.run_batch([calls[j.key] for j in batch], backend=backend, num_threads=num_threads,
                                              progress_bar=progress_bar and len(todo) > chunk)
                for judgement, state in zip(batch, states):
                    error = state.error()
                    judgement.text = f"error: {error}" if error else state["judgement"]
                    judgement.verdict = None if error else parse_verdict(judgement.text)
                    if judgement.verdict is not None or attempt == 2:
                        f.write(json.dumps(asdict(judgement), ensure_ascii=False) + "\n")
                        f.flush()
    return outcomes(folder, pairs, judge, prompt_name)


def outcomes(folder: str | Path, pairs: Sequence[tuple[str, str]], judge: str | None = None, prompt_name: str = "pair-v2") -> dict[tuple[str, str], dict[str, str]]:
    """Per pair, per question: win/tie/loss for the first method, or 'error' (a judgement had no verdict).

    Uses the cached judgements of the current answers (an answer re-run since is judged again).
    """
    folder = Path(folder)
    rows = load_rows(folder)
    judgements = load_judgements(folder)
    judges = {j.judge for j in judgements.values()} if judge is None else {judge}
    result: dict[tuple[str, str], dict[str, str]] = {}
    for first, second in pairs:
        per_question = {}
        for qid in sorted(set(rows.get(first, {})) & set(rows.get(second, {}))):
            question = rows[first][qid].question.text
            a, b = rows[first][qid].result.answer, rows[second][qid].result.answer
            for name in judges:
                ab = judgements.get(cache_key(question, a, b, name, prompt_name))
                ba = judgements.get(cache_key(question, b, a, name, prompt_name))
                if ab and ba:
                    per_question[qid] = "error" if None in (ab.verdict, ba.verdict) else combine(ab.verdict, ba.verdict)
        if per_question:
            result[(first, second)] = per_question
    return result


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
