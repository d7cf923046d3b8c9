"""The ``plato-sgl`` command line: ``ask`` a question, ``bench`` a dataset, ``report`` results, ``serve`` a model,
serve an OpenAI-compatible ``api``, list the ``models``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import nullcontext
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Sequence

from plato_sgl.core.errors import PlatoError
from plato_sgl.core.options import NODE_PROMPTS, PREFIX_PREFILLS
from plato_sgl.core.result import Result
from plato_sgl.engine.backend import model_name
from plato_sgl.engine.http import server_args
from plato_sgl.evaluation import metrics
from plato_sgl.evaluation.datasets import load_questions, role
from plato_sgl.evaluation.sweep import parse_levels
from plato_sgl.evaluation.verdicts import DEFAULT_PROMPT, VERDICT_ONLY
from plato_sgl.methods.registry import METHODS, help_text
from plato_sgl.serving.local import (
    DEFAULT_ROUTER_POLICY,
    ROUTER_POLICIES,
    open_backend,
    serve_forever,
    sigterm_as_interrupt,
)
from plato_sgl.serving.models import cache_dir, model_statuses

# The modules above import no SGLang. A command imports the layers that do (api, bench, the judge,
# the report, the engine measurement, the API server) when it runs, deferred on purpose: SGLang
# imports torch, which takes seconds that `plato-sgl --help` and a mistyped flag should not wait for.

DEFAULT_MODEL_ENV = "PLATO_SGL_MODEL"
# The model the demo and `--model` start by default (docs/serving.md, "Models", says why).
DEFAULT_MODEL = "qwen2.5-coder-0.5b"
CHAT_TEMPLATE_HELP = (
    "SGLang chat template to render prompts with, e.g. chatml, llama-3-instruct, mistral "
    "(default: the served model's own, detected and verified against the server)"
)


def _positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _levels(text: str) -> list[int]:
    """argparse type: concurrency levels, ``4`` or ``1,2,4,8``."""
    try:
        return parse_levels(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _one_or_many(levels: list[int]) -> int | list[int]:
    return levels[0] if len(levels) == 1 else levels


def _label(text: str) -> str:
    if "=" not in text or not text.partition("=")[0]:
        raise argparse.ArgumentTypeError(f"a label is KEY=VALUE, got {text!r}")
    return text


def _add_backend_args(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--model",
        default=os.environ.get(DEFAULT_MODEL_ENV, DEFAULT_MODEL),
        help="registry name or model folder; a local SGLang server is started for the run (default: %(default)s)",
    )
    where.add_argument("--url", help="use a running SGLang server instead, e.g. http://127.0.0.1:30000")
    parser.add_argument("--chat-template", metavar="NAME", help=CHAT_TEMPLATE_HELP)


def _add_option_args(parser: argparse.ArgumentParser) -> None:
    """Flags for plato_sgl.core.options.Options; left unset they keep the library defaults."""
    group = parser.add_argument_group("answer options")
    names = []

    def option(*flags: str, **kwargs) -> None:
        names.append(group.add_argument(*flags, **kwargs).dest)

    option("--max-nodes", type=int, help="most parts a plan may have (its size decision's upper bound)")
    option("--plan-max-tokens", type=int)
    option("--node-max-tokens", type=int, help="cap of one node's result")
    option("--answer-max-tokens", type=int, help="token budget of a Plato answer, split over its parts")
    option("--node-sentences", type=int, help="sentences (or code blocks) a node may write; 0: free text")
    option("--sentence-tokens", type=int, help="tokens a node's share must hold per sentence it may write")
    option("--description-max", type=int, help="characters a plan line's topic may have")
    option(
        "--no-size",
        dest="sized",
        action="store_false",
        default=None,
        help="no size decision: the plan may run to --max-nodes lines",
    )
    option("--max-tokens", type=int, help="length limit of single-request answers (ar, cot, auto's plain path)")
    option("--temperature", type=float)
    option("--top-p", type=float, help="nucleus sampling: keep the most likely tokens up to this probability mass")
    option("--top-k", type=int, help="sample from the k most likely tokens (-1: all)")
    option(
        "--frequency-penalty",
        type=float,
        metavar="X",
        help="-2..2: discourage answer text from repeating its own tokens, by how often they occurred "
        "(default: 0.5, and 0 for a programming task or a math problem)",
    )
    option(
        "--presence-penalty",
        type=float,
        metavar="X",
        help="-2..2: discourage answer text from repeating tokens it has used at all",
    )
    option(
        "--seed",
        type=int,
        help="sampling seed of every request (applied by servers started with --enable-deterministic-inference)",
    )
    option("--stop", action="append", metavar="TEXT", help="end the answer text at TEXT (repeatable)")
    option("--no-pipeline", dest="pipeline", action="store_false", default=None, help="plan first, then execute")
    option(
        "--streaming-cap", type=int, help="at most this many nodes at once while the plan streams, critical path first"
    )
    option("--context", choices=["global", "deps"], help="node context: all finished results, or dependencies only")
    option(
        "--node-prompt",
        choices=list(NODE_PROMPTS),
        help="node prompt order: the question before the node rules, or the rules (cached across questions) first",
    )
    option(
        "--prefix-prefill",
        choices=list(PREFIX_PREFILLS),
        help="prefill the node prompt's prefix at the question's start, or once the plan decides on parts",
    )
    option("--timeout", type=float, help="seconds allowed per question")
    option(
        "--auto-max-load",
        type=float,
        metavar="N",
        help="auto: above N requests per server worker (running or waiting, read before the question) answer plainly",
    )
    parser.set_defaults(option_names=tuple(names))


def _add_judge_args(parser: argparse.ArgumentParser) -> None:
    """Where the judge runs (a model served for the command, or a running server) and how (judge, calibrate)."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--judge-model", help="registry name or folder of a judge model to serve locally")
    where.add_argument(
        "--judge-url", help="a running SGLang server, or with --judge-openai-model an OpenAI-compatible /v1 URL"
    )
    parser.add_argument(
        "--judge-openai-model",
        help="model name at an OpenAI-compatible endpoint (--judge-url); key from OPENAI_API_KEY",
    )
    parser.add_argument("--chat-template", metavar="NAME", help=CHAT_TEMPLATE_HELP)
    parser.add_argument("--num-threads", type=int, default=4)
    parser.add_argument(
        "--judge-prompt",
        choices=[DEFAULT_PROMPT, VERDICT_ONLY],
        default=DEFAULT_PROMPT,
        help="FastChat's pair-v2 (an explanation, then the verdict), or pair-v2-verdict (the verdict "
        "alone: one prefill a judgement, far quicker on a CPU; a judge of its own in reports). "
        "Default: %(default)s",
    )


def _options(args: argparse.Namespace) -> dict:
    """The answer options given on the command line (those left unset keep the library defaults)."""
    return {name: getattr(args, name) for name in args.option_names if getattr(args, name) is not None}


def format_details(result: Result) -> str:
    """The plan, a per-node table and the timings, for people."""
    lines = ["Plan:", result.plan.rstrip() or "(none)", ""]
    if result.nodes:
        lines.append(
            f"{'node':>4} {'deps':<8} {'parsed':>7} {'dispatch':>8} {'start':>7} {'finish':>7} {'prompt':>6} {'cached':>6} {'output':>6}  description"
        )
        for n in result.nodes:
            lines.append(
                f"{n.id:>4} {','.join(map(str, n.deps)) or '-':<8} {_t(n.parsed_at):>7} {_t(n.dispatched_at):>8} "
                f"{_t(n.started_at):>7} {_t(n.finished_at):>7} {n.prompt_tokens:>6} {n.cached_tokens:>6} "
                f"{n.completion_tokens:>6}  {n.description}"
            )
        lines.append("")
    lines.append(
        f"plan: first token {_t(result.plan_first_token_at)} s, done {_t(result.plan_done_at)} s | "
        f"critical path {result.critical_path}, parallel degree {result.parallel_degree:.2f}"
    )
    lines.append(
        f"total: {result.wall_time:.2f} s, {result.completion_tokens} generated tokens "
        f"({result.throughput:.1f} tok/s), {result.prompt_tokens} prompt tokens of which {result.cached_tokens} cached"
    )
    for note in [*result.repairs, *([result.fallback] if result.fallback else [])]:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _t(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_progress(event) -> str:
    """One line for a person watching a question being answered (a ``scheduler.Progress``)."""
    at = f"at {event.at:.1f} s"
    if event.kind == "node":
        return f"plan  {event.node_id}. {event.description} [{','.join(map(str, event.deps))}]"
    if event.kind == "dispatched":
        return f"      dispatched {','.join(map(str, event.node_ids))} {at}"
    if event.kind == "done":
        tokens = "" if event.tokens is None else f" ({event.tokens} tokens)"
        return f"      done {event.node_id}{tokens} {at}"
    if event.kind == "failed":
        what = event.node_id if event.node_id is not None else event.description
        return f"      failed {what} {at}" + (f": {event.text}" if event.text else "")
    if event.kind == "route":
        return f"route {event.text}"
    if event.kind == "planned":
        return f"plan  complete {at}"
    return f"      {event.kind} {at}" + (f": {event.text}" if event.text else "")  # a kind added later


def _print_progress(event) -> None:
    print(format_progress(event), file=sys.stderr, flush=True)


def _stream_answer(events, show: bool) -> Result:
    """Print the answer on stdout as it streams (progress on stderr when ``show``); return the Result."""
    printed = []
    for event in events:
        if event.kind == "text":
            printed.append(event.text)
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif event.kind == "progress" and show and event.progress.kind != "text":
            _print_progress(event.progress)
        elif event.kind == "result":
            print()
            if "".join(printed) != event.result.answer:  # not expected: say so, and show the answer whole
                print(f"(the final answer differs from the streamed text; in full:)\n{event.result.answer}")
            return event.result
    raise RuntimeError("the answer stream ended without its result")  # stream() always ends with one


def cmd_ask(args: argparse.Namespace) -> int:
    import plato_sgl
    from plato_sgl.api import check

    check(args.question, args.method, **_options(args))  # bad input is refused before a server starts
    show = not (args.json or args.quiet)  # the plan and progress on stderr while it works
    with open_backend(
        model=None if args.url else args.model, url=args.url, chat_template=args.chat_template
    ) as backend:
        compare = args.compare and args.method != "ar"
        if args.json:
            result = plato_sgl.run(args.question, method=args.method, backend=backend, **_options(args))
            if not compare:
                print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
                return 0
            plain = plato_sgl.run(args.question, method="ar", backend=backend, **_options(args))
            print(json.dumps({"answer": result.to_dict(), "plain": plain.to_dict()}, indent=2, ensure_ascii=False))
            return 0
        result = _stream_answer(
            plato_sgl.stream(args.question, method=args.method, backend=backend, **_options(args)), show
        )
        if show:
            print(f"answered in {result.wall_time:.1f} s", file=sys.stderr, flush=True)
        if compare:
            print(f"\n--- {PLAIN_HEADING} ---", flush=True)
            plain = _stream_answer(
                plato_sgl.stream(args.question, method="ar", backend=backend, **_options(args)), False
            )
    if args.verbose:
        print("\n" + format_details(result))
    if compare:
        print(format_comparison(result, plain), file=sys.stderr, flush=True)
    return 0


PLAIN_HEADING = "the same question answered plainly (ar), after it, on the same server"


def format_comparison(result: Result, plain: Result) -> str:
    """The question's times beside a plain answer's on the same server: what a person waited for each."""

    def times(r: Result) -> str:
        first = metrics.first_answer_token(r)
        return f"{r.wall_time:.1f} s (first answer text at {_t(first)} s, {r.completion_tokens} tokens decoded" + (
            f", plan's first token at {r.plan_first_token_at:.2f} s)" if r.plan_first_token_at is not None else ")"
        )

    ratio = plain.wall_time / result.wall_time if result.wall_time else float("inf")
    verdict = "sooner" if result.wall_time < plain.wall_time else "not sooner"
    return "\n".join(
        [
            f"{result.method}: {times(result)}",
            f"plain answer (ar), asked after it: {times(plain)}",
            f"{result.method} was {verdict} than a plain answer: {ratio:.2f}x its speed",
        ]
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from plato_sgl.evaluation.bench import describe_backend, run_bench, variants_for
    from plato_sgl.evaluation.report import write_report

    questions = load_questions(
        args.dataset,
        question_field=args.question_field,
        category_field=args.category_field,
        first=args.first,
        category=args.category,
        per_category=args.per_category,
    )
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    variants = variants_for(methods, ablation=args.ablation, options=_options(args))
    with open_backend(
        model=None if args.url else args.model, url=args.url, chat_template=args.chat_template
    ) as backend:
        environment = describe_backend(
            backend,
            dataset=str(args.dataset),
            question_set=role(args.dataset),
            cache="each answer in a namespace of its own, its method's static prompt text warm",
            concurrency=_one_or_many(args.concurrency),
            max_inflight=args.max_inflight,
            options=_options(args),
            command=" ".join(sys.argv),
        )
        rows = run_bench(
            questions,
            variants,
            backend,
            args.out,
            concurrency=args.concurrency,
            resume=args.resume,
            environment=environment,
            max_inflight=args.max_inflight,
        )
    failed = sum(1 for r in rows if not r.result.ok)
    print(f"{len(rows)} answers saved in {args.out} ({failed} failed)")
    print(f"report: {write_report(args.out)}")
    return 1 if failed else 0


# The server settings an engine measurement records (SGLang's server_args), beside the CPU's threads.
ENGINE_SETTINGS = (
    "dtype",
    "chunked_prefill_size",
    "enable_torch_compile",
    "schedule_conservativeness",
    "max_running_requests",
    "attention_backend",
    "quantization",
)


def cmd_engine(args: argparse.Namespace) -> int:
    from plato_sgl.evaluation.engine_speed import cpu_summary, measure, table

    local = {} if args.url else {"threads": args.threads, "extra_args": args.sglang_args}
    with open_backend(
        model=None if args.url else args.model, url=args.url, chat_template=args.chat_template, warm_up=False, **local
    ) as backend:
        figures = measure(
            backend,
            batches=args.batches,
            prompt_tokens=args.prompt_tokens,
            new_tokens=args.new_tokens,
            repeats=args.repeats,
        )
        served = server_args(backend.base_url)
        figures.settings = {
            "model": model_name(backend),
            "cpu": cpu_summary(),
            **({"threads": args.threads} if not args.url else {}),
            **{k: served.get(k) for k in ENGINE_SETTINGS if k in served},
            **dict(item.split("=", 1) for item in args.label),
        }
    print(table([figures]))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(figures.to_dict()) + "\n")
    return 0


def _judge_backend(args: argparse.Namespace):
    """The judge's backend as a context manager: a local server for --judge-model (its KV pool sized
    for --num-threads calls), a running SGLang server at --judge-url, or an OpenAI-style API."""
    from plato_sgl.evaluation.judge import judge_pool_tokens

    if args.judge_openai_model:
        import sglang as sgl

        return nullcontext(
            sgl.OpenAI(
                args.judge_openai_model, base_url=args.judge_url, api_key=os.environ.get("OPENAI_API_KEY", "none")
            )
        )
    local = {} if args.judge_url else {"max_total_tokens": judge_pool_tokens(args.num_threads)}
    return open_backend(
        model=args.judge_model if not args.judge_url else None,
        url=args.judge_url,
        chat_template=args.chat_template,
        **local,
    )


def cmd_calibrate(args: argparse.Namespace) -> int:
    from plato_sgl.evaluation.calibration import run_calibration, verdict_lines, write_calibration_report
    from plato_sgl.evaluation.judge import judge_label

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()] if args.kinds else None
    with _judge_backend(args) as backend:
        scores = run_calibration(
            args.out,
            backend,
            num_threads=args.num_threads,
            kinds=kinds,
            first=args.first,
            prompt_name=args.judge_prompt,
        )
        judge = judge_label(model_name(backend), args.judge_prompt)
    print("\n".join(verdict_lines(scores, judge)))
    print(f"report: {write_calibration_report(args.out)}")
    return 0 if scores and all(s.passed for s in scores) else 2


def cmd_judge(args: argparse.Namespace) -> int:
    from plato_sgl.evaluation.judge import run_judge, tallies
    from plato_sgl.evaluation.report import write_report

    pairs = []
    for item in args.pairs.split(","):
        first, sep, second = item.strip().partition(":")
        if not sep or not first or not second or first == second:
            raise ValueError(f"--pairs takes METHOD:METHOD items, e.g. plato:ar; got {item!r}")
        pairs.append((first, second))
    from plato_sgl.evaluation.report import pair_summaries

    with _judge_backend(args) as backend:
        outcomes = run_judge(args.folder, pairs, backend, num_threads=args.num_threads, prompt_name=args.judge_prompt)
        judge = model_name(backend)
    summaries = pair_summaries(args.folder, judge, pairs, args.judge_prompt)
    for (first, second), by_category in tallies(args.folder, outcomes).items():
        t = by_category["all"]
        s = summaries.get((first, second), (None,))[0]
        debiased = (
            ""
            if s is None or s.debiased is None
            else f"; debiased net preference {s.debiased:+.0%}, debiased net win {s.debiased_net:+.0%}"
        )
        print(
            f"{first} vs {second}: {t.wins} wins, {t.ties} ties, {t.losses} losses -> net win rate {t.net_win_rate:+.0%}{debiased}"
        )
    print(f"report: {write_report(args.folder)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from plato_sgl.evaluation.report import write_report

    print(write_report(args.folder, args.baseline))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    options = {"host": args.host, "max_total_tokens": args.max_total_tokens}
    serve_forever(
        args.model,
        port=args.port,
        threads=args.threads,
        workers=args.workers,
        policy=args.policy,
        extra_args=args.sglang_args,
        **{k: v for k, v in options.items() if v is not None},
    )
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    from plato_sgl.serving.app import serve_api

    with open_backend(
        model=None if args.url else args.model, url=args.url, chat_template=args.chat_template
    ) as backend:
        print(
            f"plato-sgl api: OpenAI-compatible, on http://{args.host}:{args.port}/v1 (models: the methods; "
            f"SGLang at {backend.base_url})",
            file=sys.stderr,
            flush=True,
        )
        serve_api(backend, host=args.host, port=args.port)
    return 0


def format_models(statuses) -> str:
    """The registry as a table: name, parameters, built (with its size on disk) or where it comes from."""
    rows = [("model", "parameters", "built", "source")]
    for s in statuses:
        built = (
            f"yes, {s.disk_bytes / 1e6:,.0f} MB" if s.built and s.disk_bytes >= 1e6 else ("yes" if s.built else "no")
        )
        rows.append((s.spec.name, s.spec.parameters, built, s.spec.source))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths)) + "  " + r[3] for r in rows)


def cmd_models(args: argparse.Namespace) -> int:
    print(format_models(model_statuses()))
    print(f"\ncache: {cache_dir() / 'models'}; a model is built on first use (`plato-sgl serve --model NAME`)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plato-sgl", description=__doc__)
    parser.add_argument("--version", action="version", version=f"plato-sgl {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument(
        "--method",
        default="plato",
        help=f"default plato. {help_text()}",
    )
    ask.add_argument(
        "-v", "--verbose", action="store_true", help="also print the plan, a per-node table and the timings"
    )
    ask.add_argument("--json", action="store_true", help="print the whole Result as JSON (no progress on stderr)")
    ask.add_argument("-q", "--quiet", action="store_true", help="print only the answer: no plan and progress on stderr")
    ask.add_argument(
        "--compare",
        action="store_true",
        help="then answer the same question plainly (ar) on the same server, after it, and print both times",
    )
    _add_backend_args(ask)
    _add_option_args(ask)
    ask.set_defaults(func=cmd_ask)

    bench = sub.add_parser("bench", help="answer a dataset with several methods and report the paper's metrics")
    bench.add_argument(
        "--dataset",
        default="vicuna80",
        help="vicuna80 (the tuning set), wizardlm (held out: WizardLM's 218-question test set) or gsm8k (GSM8K's test split), all built in, or a .jsonl/.json/.csv file (default: %(default)s)",
    )
    bench.add_argument("--question-field", help="the question's field in a custom dataset")
    bench.add_argument("--category-field", help="the category's field in a custom dataset")
    bench.add_argument("--first", type=int, help="only the first N questions")
    bench.add_argument("--category", help="only questions of this category")
    bench.add_argument("--per-category", type=int, metavar="N", help="only the first N questions of each category")
    bench.add_argument(
        "--methods",
        default="ar,sot,plato",
        help="comma-separated methods, ablation variants (plato-cap-2) or methods with options of their own "
        "(ar+frequency_penalty=0.5+max_tokens=512) (default: %(default)s)",
    )
    bench.add_argument(
        "--ablation",
        action="store_true",
        help="also run the Plato ablation: plan-first, dependency-only context (Table 4), each length lever off (no size decision, long topics, free-text nodes), at most 3 sentences a node (node_sentences 3), and a cap of 2 nodes while the plan streams",
    )
    bench.add_argument("--out", required=True, type=Path, help="results folder (JSONL per method, report.md, plots)")
    bench.add_argument(
        "--concurrency",
        type=_levels,
        default=[1],
        metavar="N[,N...]",
        help="questions in flight at once (1 = the paper's setting); several levels, e.g. 1,2,4,8, run a load "
        "sweep: at each level, batches of N questions of one method, interleaved across levels, one folder per level",
    )
    bench.add_argument(
        "--resume", action="store_true", help="continue a run in --out: only missing and failed questions run"
    )
    bench.add_argument(
        "--max-inflight",
        type=_positive_int,
        metavar="N",
        help="at most N requests of a batch on the server at once, counting plans, nodes and prefills "
        "(plans first; default: no bound beyond --concurrency's questions)",
    )
    _add_backend_args(bench)
    _add_option_args(bench)
    bench.set_defaults(func=cmd_bench)

    judge = sub.add_parser("judge", help="compare saved answers pairwise with an LLM judge (both orders)")
    judge.add_argument("folder", type=Path, help="a results folder written by bench")
    judge.add_argument("--pairs", default="plato:ar,plato:sot,ar:sot", help="METHOD:METHOD,... (default: %(default)s)")
    _add_judge_args(judge)
    judge.set_defaults(func=cmd_judge)

    calibrate = sub.add_parser(
        "calibrate",
        help="score a judge on pairs with a known worse answer (cut, duplicated, off-topic, empty, wrong GSM8K answer)",
    )
    calibrate.add_argument(
        "--out",
        required=True,
        type=Path,
        help="folder for the pairs, the judgements (cached) and calibration.md; "
        "a results folder's calibration/ subfolder puts the scores into its report",
    )
    _add_judge_args(calibrate)
    calibrate.add_argument(
        "--kinds", help="only these kinds, comma-separated (truncated, duplicated, off_topic, empty, wrong_answer)"
    )
    calibrate.add_argument("--first", type=int, metavar="N", help="only the first N pairs of each kind")
    calibrate.set_defaults(func=cmd_calibrate)

    report = sub.add_parser("report", help="write report.md and plots for a results folder")
    report.add_argument("folder", type=Path)
    report.add_argument(
        "--baseline",
        metavar="METHOD",
        help="the method every other is compared with, e.g. ar+frequency_penalty=0; remembered in the "
        "folder for later reports (default: the folder's remembered one, else ar)",
    )
    report.set_defaults(func=cmd_report)

    serve = sub.add_parser("serve", help="serve a model with SGLang on this machine (CPU or GPU)")
    serve.add_argument("--model", required=True, help="registry name or model folder")
    serve.add_argument("--port", type=int)
    serve.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument(
        "--threads",
        type=int,
        help="CPU threads of the server (OMP_NUM_THREADS; default: $PLATO_SGL_THREADS, else every usable core)",
    )
    serve.add_argument("--max-total-tokens", type=int, help="KV cache size in tokens (default: 8192)")
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="SGLang workers (data-parallel) behind sglang-router; --port is the router's (default: 1, no router)",
    )
    serve.add_argument(
        "--policy",
        choices=ROUTER_POLICIES,
        default=DEFAULT_ROUTER_POLICY,
        help="sglang-router's routing policy with --workers (default: %(default)s: every request of a question, "
        "which carries its question's routing key, goes to one worker, a new question to the least loaded)",
    )
    serve.set_defaults(func=cmd_serve, sglang_args=[])

    engine = sub.add_parser(
        "engine", help="measure the served engine: prefill rate on a fresh prompt, aggregate decode rate per batch size"
    )
    _add_backend_args(engine)
    engine.add_argument("--threads", type=int, help="with --model: the server's CPU threads (as for serve)")
    engine.add_argument(
        "--batches",
        type=_levels,
        default=[1, 2, 4, 8],
        metavar="N[,N...]",
        help="batch sizes to decode at (default: 1,2,4,8)",
    )
    engine.add_argument(
        "--prompt-tokens", type=_positive_int, default=480, help="tokens of the prefill prompt (default: %(default)s)"
    )
    engine.add_argument(
        "--new-tokens", type=_positive_int, default=96, help="tokens each sequence decodes (default: %(default)s)"
    )
    engine.add_argument(
        "--repeats",
        type=_positive_int,
        default=2,
        help="measurements per figure, the median kept (default: %(default)s)",
    )
    engine.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        type=_label,
        help="a setting to record beside the server's own (repeatable), e.g. --label machine=idle",
    )
    engine.add_argument("--out", type=Path, help="append the figures to this JSONL file")
    engine.set_defaults(func=cmd_engine, sglang_args=[])

    service = sub.add_parser(
        "api", help=f"serve an OpenAI-compatible API whose models are the methods ({', '.join(METHODS)})"
    )
    _add_backend_args(service)
    service.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    service.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    service.set_defaults(func=cmd_api)

    listing = sub.add_parser(
        "models", help="list the models plato-sgl can serve, their sizes and whether each is built"
    )
    listing.set_defaults(func=cmd_models)
    return parser


def _version() -> str:
    try:
        return version("plato-sgl")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:  # `plato-sgl serve ... -- --any-sglang-flag`: the rest goes to sglang.launch_server
        argv, passthrough = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    parser = build_parser()
    args = parser.parse_args(argv)
    if passthrough:
        if args.command not in ("serve", "engine"):
            parser.error("arguments after -- are passed to SGLang's server, so only `serve` and `engine` take them")
        args.sglang_args = passthrough
    try:
        with sigterm_as_interrupt():  # `kill` stops a server started for the command, as Ctrl-C does
            return args.func(args)
    except (PlatoError, ValueError) as exc:
        print(f"plato-sgl: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("plato-sgl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
