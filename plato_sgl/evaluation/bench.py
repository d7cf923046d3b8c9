"""Benchmark runs: every question of a dataset answered by every variant, saved as it finishes.

Layout of a run folder: ``<variant>.jsonl`` (one row per answered question, append-only: a retried
question adds a row and the last row wins), ``environment.jsonl`` (one record per invocation).
The folder also holds ``judgements.jsonl`` once answers are judged (plato_sgl.evaluation.judge).
Variants are interleaved question by question so every method sees the same server and load.
Every answer starts from the cache state of a question newly arrived at a warm server: it runs in a
cache namespace of its own (SGLang's ``extra_key``) where only its method's static prompt text is
prefilled (``plato_sgl.engine.warmup``), so no answer finds its question cached by another method's.
Several concurrency levels (a load sweep, ``plato_sgl.evaluation.sweep``) give one such folder per level,
``concurrency-N/``, filled in batches of N questions interleaved across the levels.
"""

from __future__ import annotations

import sys
import time
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable, Sequence

import sglang
from tqdm import tqdm

from plato_sgl.api import Task, check_method, run_many
from plato_sgl.core.grammar import warm_up_regexes
from plato_sgl.core.options import Options
from plato_sgl.core.result import Result
from plato_sgl.engine.backend import chat_template_of, model_name
from plato_sgl.engine.http import server_args, worker_urls
from plato_sgl.engine.warmup import warm_up_prompts, warm_up_workers
from plato_sgl.evaluation import sweep
from plato_sgl.evaluation.datasets import Question
from plato_sgl.evaluation.engine_speed import cpu_summary
from plato_sgl.evaluation.records import (
    BatchInfo,
    Row,
    Variant,
    drop_torn_tail,
    load_rows,
    write_environment,
)
from plato_sgl.methods.registry import openings

# Table 4 of the paper: pipelining (latency) and the global context (extra prefill tokens); then
# each length lever turned off on its own: the size decision, the short topic bound,
# and the sentence grammar of nodes; then the sentence bound lowered from 5 to 3.
ABLATION = (
    Variant("plato", "plato"),
    Variant("plato-plan-first", "plato", {"pipeline": False}),
    Variant("plato-deps-context", "plato", {"context": "deps"}),
    Variant("plato-no-size", "plato", {"sized": False}),
    Variant("plato-long-topics", "plato", {"description_max": 120}),
    Variant("plato-free-nodes", "plato", {"node_sentences": 0}),
    Variant("plato-3-sentences", "plato", {"node_sentences": 3}),
    Variant("plato-cap-2", "plato", {"streaming_cap": 2}),
)


# ``auto`` reading the server's load (Options.auto_max_load), beside plain ``auto`` in one run.
LOAD_AWARE_AUTO = "auto-load"


def _option_value(text: str) -> Any:
    """An option value written in a variant name: an integer, a number, true/false, none, else text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_variant(spec: str, options: dict[str, Any]) -> Variant:
    """A variant from its name in ``--methods``: a method (``plato``), an ablation variant
    (``plato-cap-2``), or a method with options of its own, ``method+name=value+...``
    (``ar+frequency_penalty=0.5``), which override the run's ``options`` for it alone."""
    ablation = {v.name: v for v in ABLATION}
    if spec in ablation:
        return Variant(spec, ablation[spec].method, {**options, **ablation[spec].options})
    method, *settings = spec.split("+")
    own = {}
    for setting in settings:
        name, equals, value = setting.partition("=")
        if not equals or not name:
            raise ValueError(f"variant {spec!r}: {setting!r} is not name=value (e.g. plato+node_sentences=3)")
        own[name.replace("-", "_")] = _option_value(value)
    return Variant(spec, method, {**options, **own})


def variants_for(
    methods: Sequence[str], *, ablation: bool = False, options: dict[str, Any] | None = None
) -> list[Variant]:
    """The variants of a run: one per entry of ``methods`` (sharing ``options``; see
    ``parse_variant``), plus the ablation's Plato variants.

    ``auto-load`` is ``auto`` with ``auto_max_load`` (which it needs); listed, it alone gets that
    option, so ``--methods ar,plato,auto,auto-load`` measures the load signal's effect interleaved."""
    options = dict(options or {})
    if LOAD_AWARE_AUTO in methods:
        if options.get("auto_max_load") is None:
            raise ValueError(f"method {LOAD_AWARE_AUTO} is auto with auto_max_load: give it (--auto-max-load N)")
        others = {k: v for k, v in options.items() if k != "auto_max_load"}
        variants = [Variant(m, "auto", options) if m == LOAD_AWARE_AUTO else parse_variant(m, others) for m in methods]
    else:
        variants = [parse_variant(m, options) for m in methods]
    if ablation:
        names = {v.name for v in variants}
        variants += [parse_variant(v.name, options) for v in ABLATION if v.name not in names]
    if len({v.name for v in variants}) != len(variants):
        raise ValueError(f"a method is listed twice: {', '.join(methods)}")
    for variant in variants:  # before any server starts
        check_method(variant.method, variant.options)
    return variants


def pending(
    questions: Sequence[Question], variants: Sequence[Variant], saved: dict[str, dict[str, Row]]
) -> list[tuple[Question, Variant]]:
    """(question, variant) pairs still to run: never run, or last run failed; interleaved by question."""
    todo = []
    for question in questions:
        for variant in variants:
            row = saved.get(variant.name, {}).get(question.id)
            if row is None or not row.result.ok:
                todo.append((question, variant))
    return todo


def run_bench(
    questions: Sequence[Question],
    variants: Sequence[Variant],
    backend: Any,
    out: str | Path,
    *,
    concurrency: int | Sequence[int] = 1,
    resume: bool = False,
    progress_bar: bool = True,
    environment: dict[str, Any] | None = None,
    max_inflight: int | None = None,
) -> list[Row]:
    """Answer what is still missing and append each result to its variant's file as it finishes.

    ``concurrency``: questions in flight at once; several levels (``[1, 2, 4, 8]``) run a load
    sweep (:func:`run_sweep`), one level folder each. ``max_inflight``: at most this many requests
    of a batch on the server at once (``run_many``'s admission; None: no bound)."""
    levels = sweep.parse_levels(concurrency)
    out = Path(out)
    if len(levels) > 1:
        return run_sweep(
            questions,
            variants,
            backend,
            out,
            levels=levels,
            resume=resume,
            progress_bar=progress_bar,
            environment=environment,
            max_inflight=max_inflight,
        )
    concurrency = levels[0]
    if out.exists() and sweep.level_folders(out):
        raise ValueError(
            f"{out} holds a load sweep (concurrency-N folders): run the sweep's levels again "
            "(--concurrency 1,2,...) with --resume, or choose another --out"
        )
    saved = load_rows(out) if out.exists() else {}
    if saved and not resume:
        raise ValueError(f"{out} already holds results: pass --resume to continue that run, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    for variant in variants:
        drop_torn_tail(out / f"{variant.name}.jsonl")
    todo = pending(questions, variants, saved)
    write_environment(out, environment, variants, questions=len(questions), to_run=len(todo), resumed=bool(saved))

    rows: list[Row] = []

    def save(index: int, result: Result) -> None:
        question, variant = todo[index]
        row = Row(question, variant.name, result)
        with (out / f"{variant.name}.jsonl").open("a", encoding="utf-8") as f:
            f.write(row.to_json() + "\n")
        rows.append(row)

    tasks = [Task(q.text, v.method, v.options) for q, v in todo]
    _flush_cache(backend, variants)
    run_many(
        tasks,
        backend=backend,
        num_threads=concurrency,
        progress_bar=progress_bar,
        on_result=save,
        max_inflight=max_inflight,
        prepare=fresh_cache(tasks),
    )
    return rows


def fresh_cache(tasks: Sequence[Task]) -> Callable[[int, Any], None]:
    """``run_many``'s ``prepare`` that gives each answer the cache state of a newly arrived
    question: a cache namespace of its own, with its method's static prompt text prefilled there
    (the grammars are compiled once per run, by ``_flush_cache``)."""

    def prepare(index: int, endpoint: Any) -> None:
        if not hasattr(endpoint, "cache_key"):  # not SGLang's runtime: no namespaces to give
            return
        endpoint.cache_key = f"plato-bench-{uuid.uuid4().hex}"
        task = tasks[index]  # warmed through the question's own endpoint: its namespace, and its worker behind a router
        warm_up_prompts(endpoint, openings([(task.method, Options.from_kwargs(**task.options))]))

    return prepare


def run_sweep(
    questions: Sequence[Question],
    variants: Sequence[Variant],
    backend: Any,
    out: str | Path,
    *,
    levels: Sequence[int],
    resume: bool = False,
    progress_bar: bool = True,
    environment: dict[str, Any] | None = None,
    max_inflight: int | None = None,
) -> list[Row]:
    """A load sweep: at each level N, batches of N questions of one variant sent together, the
    batches of every level and variant interleaved (``sweep.schedule``); each answer is appended to
    ``out/concurrency-N/<variant>.jsonl`` as it finishes, with its batch. ``--resume`` runs only the
    missing and failed answers of each level."""
    out = Path(out)
    if out.exists() and load_rows(out):
        raise ValueError(f"{out} holds an ordinary run (one concurrency level): choose another --out for a load sweep")
    folders = {level: sweep.level_folder(out, level) for level in levels}
    saved = {level: load_rows(folder) if folder.exists() else {} for level, folder in folders.items()}
    if any(saved.values()) and not resume:
        raise ValueError(f"{out} already holds results: pass --resume to continue that run, or choose another --out")
    batches = sweep.schedule(questions, levels, variants, saved)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for level, folder in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        for variant in variants:
            drop_torn_tail(folder / f"{variant.name}.jsonl")
        kept = len(questions) - len(questions) % level
        write_environment(
            folder,
            {**(environment or {}), "concurrency": level},
            variants,
            started=started,
            questions=kept,
            resumed=bool(saved[level]),
            sweep=list(levels),
            to_run=sum(len(b.questions) for b in batches if b.level == level),
        )
    write_environment(
        out,
        {**(environment or {}), "concurrency": list(levels)},
        variants,
        started=started,
        questions=len(questions),
        resumed=any(saved.values()),
        to_run=sum(len(b.questions) for b in batches),
        batches=len(batches),
    )

    rows: list[Row] = []
    _flush_cache(backend, variants)
    bar = None
    if progress_bar:
        bar = tqdm(total=sum(len(b.questions) for b in batches), unit="q")
    try:
        for batch in batches:
            rows += _run_batch(batch, folders[batch.level], backend, max_inflight)
            if bar is not None:
                bar.update(len(batch.questions))
    finally:
        if bar is not None:
            bar.close()
    return rows


def _run_batch(batch: sweep.Batch, folder: Path, backend: Any, max_inflight: int | None = None) -> list[Row]:
    """Send one sweep batch's questions together (one thread each) and save each answer as it finishes."""
    size = len(batch.questions)
    batch_id = f"{batch.variant.name}-{batch.number}-{uuid.uuid4().hex[:8]}"  # unique across resumed runs
    tasks = [Task(q.text, batch.variant.method, batch.variant.options) for q in batch.questions]
    started = time.monotonic()
    rows: list[Row] = []

    def save(index: int, result: Result) -> None:
        # the question started once its thread did: its end minus its own wall time
        offset = max(0.0, time.monotonic() - started - result.wall_time)
        row = Row(batch.questions[index], batch.variant.name, result, BatchInfo(batch_id, size, round(offset, 3)))
        with (folder / f"{batch.variant.name}.jsonl").open("a", encoding="utf-8") as f:
            f.write(row.to_json() + "\n")
        rows.append(row)

    run_many(
        tasks,
        backend=backend,
        num_threads=size,
        progress_bar=False,
        on_result=save,
        max_inflight=max_inflight,
        prepare=fresh_cache(tasks),
    )
    return rows


WARM_UP_TIMEOUT = 120.0  # seconds per grammar: generous, a first compile on a busy CPU takes many seconds


def _flush_cache(backend: Any, variants: Sequence[Variant]) -> None:
    """Start every run from an empty prefix cache, so results do not depend on what the server did
    before, with the variants' default grammars compiled again.

    Only at the start: each answer then runs in a namespace of its own (:func:`fresh_cache`), and
    compiled grammars, which no namespace scopes, stay warm across the run. SGLang's flush also
    drops its compiled grammars (the warm-up ``connect`` did), so they are warmed up again here:
    else the run's first questions would wait for xgrammar to compile the plan and node regexes, a
    cost a serving system pays once at start-up, not per run. A grammar only a variant's other
    options use (e.g. ``description_max``) is compiled by its first question.
    """
    endpoint = getattr(backend, "endpoint", backend)
    flush = getattr(endpoint, "flush_cache", None)
    if flush is None:
        return
    try:
        flush()
    except RuntimeError as exc:
        # sglang-router flushes every worker it knows, a dead one too, and then answers partial
        # success, which the frontend raises: the live workers were flushed, so the run goes on.
        if "partial_success" not in str(exc):
            raise
        print(f"plato-sgl: the cache flush reached only some of the router's workers: {exc}", file=sys.stderr)
    regexes = dict.fromkeys(r for v in variants for r in warm_up_regexes(v.options.get("max_nodes")))
    warm_up_workers(
        endpoint,
        list(regexes),
        timeout=WARM_UP_TIMEOUT,
        on_error=lambda worker, exc: print(
            f"plato-sgl: the grammar warm-up failed on {worker}, whose first questions will compile their own: {exc}",
            file=sys.stderr,
        ),
    )


def describe_backend(backend: Any, **extra: Any) -> dict[str, Any]:
    """What the results were measured on: server, model, versions, device."""
    info: dict[str, Any] = {
        "sglang": sglang.__version__,
        "plato_sgl": version("plato-sgl"),
        "cpu": cpu_summary(),
        **extra,
    }
    endpoint = getattr(backend, "endpoint", backend)
    info["url"] = getattr(endpoint, "base_url", None)
    info["model"] = model_name(backend)
    info["chat_template"] = chat_template_of(backend)
    try:  # a router has no /server_info: ask its first worker, and count its workers
        info["device"] = server_args(info["url"]).get("device")
        info["workers"] = len(worker_urls(info["url"]))
    except Exception as exc:  # an OpenAI-style backend has no server info: say so, don't fail the run
        info["device"] = f"unknown ({type(exc).__name__})"
    return info
