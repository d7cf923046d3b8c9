"""Benchmark bookkeeping without a server: saved rows, resume, torn lines, datasets, variants, the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plato_sgl.core.options import Options
from plato_sgl.core.result import Call, NodeRecord, Result
from plato_sgl.evaluation.bench import pending, variants_for
from plato_sgl.evaluation.datasets import Question, load_questions
from plato_sgl.evaluation.records import Row, Variant, drop_torn_tail, load_rows
from plato_sgl.evaluation.report import plots, write_report

QUESTIONS = [Question(id=str(i), text=f"question {i}", category="generic" if i < 3 else "math") for i in range(1, 5)]


def result(method: str, tokens: int, seconds: float, error: str | None = None) -> Result:
    nodes = []
    if method.startswith("plato"):
        nodes = [
            NodeRecord(
                id=1,
                description="first",
                parsed_at=0.5,
                dispatched_at=0.5,
                started_at=0.7,
                finished_at=1.5,
                completion_tokens=tokens // 2,
            ),
            NodeRecord(
                id=2,
                description="second",
                deps=(1,),
                parsed_at=1.0,
                dispatched_at=1.5,
                started_at=1.6,
                finished_at=2.0,
                completion_tokens=tokens // 2,
            ),
        ]
    return Result(
        question="q",
        method=method,
        nodes=nodes,
        calls=[] if nodes else [Call(kind="answer", completion_tokens=tokens)],
        wall_time=seconds,
        error=error,
        plan="1. first.[]\n2. second.[1]\n" if nodes else "",
        plan_first_token_at=0.1 if nodes else None,
        plan_done_at=1.2 if nodes else None,
        critical_path=2 if nodes else 0,
        parallel_degree=1.0 if nodes else 0.0,
    )


def save(folder: Path, variant: str, question: Question, res: Result) -> None:
    with (folder / f"{variant}.jsonl").open("a") as f:
        f.write(Row(question, variant, res).to_json() + "\n")


def test_rows_round_trip_and_the_last_row_of_a_question_wins(tmp_path):
    save(tmp_path, "ar", QUESTIONS[0], result("ar", 10, 1.0, error="server went away"))
    save(tmp_path, "ar", QUESTIONS[0], result("ar", 10, 1.0))
    rows = load_rows(tmp_path)
    assert list(rows) == ["ar"] and rows["ar"]["1"].result.ok
    assert rows["ar"]["1"].result.to_dict() == result("ar", 10, 1.0).to_dict()


def test_pending_runs_missing_and_failed_questions_only_interleaved_by_question(tmp_path):
    variants = variants_for(["ar", "plato"])
    save(tmp_path, "ar", QUESTIONS[0], result("ar", 10, 1.0))
    save(tmp_path, "plato", QUESTIONS[0], result("plato", 10, 1.0, error="killed"))
    save(tmp_path, "ar", QUESTIONS[1], result("ar", 10, 1.0))
    todo = pending(QUESTIONS[:3], variants, load_rows(tmp_path))
    assert [(q.id, v.name) for q, v in todo] == [("1", "plato"), ("2", "plato"), ("3", "ar"), ("3", "plato")]


def test_an_answer_cut_short_by_an_abort_counts_as_failed_and_runs_again(tmp_path):
    # saved as finished by a bench before aborts were failures: the request ended with "abort"
    cut = result("ar", 10, 1.0)
    cut.calls[0].finish_reason = "abort"
    node_cut = result("plato", 10, 1.0)
    node_cut.nodes[1].finish_reason = "abort"
    save(tmp_path, "ar", QUESTIONS[0], cut)
    save(tmp_path, "plato", QUESTIONS[0], node_cut)
    rows = load_rows(tmp_path)
    assert rows["ar"]["1"].result.aborted() == ["answer"] and not rows["ar"]["1"].result.ok
    assert rows["plato"]["1"].result.aborted() == ["node 2"] and not rows["plato"]["1"].result.ok
    assert result("ar", 10, 1.0).ok and result("ar", 10, 1.0).aborted() == []
    assert [(q.id, v.name) for q, v in pending(QUESTIONS[:1], variants_for(["ar", "plato"]), rows)] == [
        ("1", "ar"),
        ("1", "plato"),
    ]


def test_a_plan_stopped_for_a_plain_answer_is_finished_work_and_does_not_run_again(tmp_path):
    # auto's plan, aborted by the question itself once it chose a plain answer (Call.stopped)
    plain = result("auto", 10, 1.0)
    plain.calls.insert(0, Call(kind="plan", completion_tokens=4, finish_reason="abort", stopped=True))
    save(tmp_path, "auto", QUESTIONS[0], plain)
    rows = load_rows(tmp_path)
    assert rows["auto"]["1"].result.calls[0].stopped and rows["auto"]["1"].result.ok
    assert rows["auto"]["1"].result.aborted() == []
    assert pending(QUESTIONS[:1], variants_for(["auto"]), rows) == []
    plain.calls[0].stopped = False  # the same abort from outside the question cuts it short
    assert plain.aborted() == ["plan"] and not plain.ok


@pytest.mark.parametrize("concurrency", [2, [1, 2]])
def test_bench_bounds_every_batch_by_max_inflight(tmp_path, monkeypatch, concurrency):
    # the bookkeeping only: run_many's admission itself is tested on a real server (test_admission.py)
    import plato_sgl.evaluation.bench as bench

    bounds = []
    monkeypatch.setattr(bench, "_flush_cache", lambda backend, variants: None)
    monkeypatch.setattr(bench, "run_many", lambda tasks, max_inflight=None, **kw: bounds.append(max_inflight) or [])
    bench.run_bench(
        QUESTIONS[:2],
        variants_for(["ar"]),
        None,
        tmp_path / "run",
        concurrency=concurrency,
        progress_bar=False,
        max_inflight=5,
    )
    assert bounds and set(bounds) == {5}


def test_the_flush_at_a_runs_start_is_followed_by_a_grammar_warm_up_of_its_variants(monkeypatch):
    # SGLang's /flush_cache also drops compiled grammars (Scheduler.flush_cache -> grammar_manager.clear),
    # so the bench compiles the variants' default grammars again before the first question.
    # Bookkeeping with a recording endpoint; the warm-up itself runs on real servers in the bench tests.
    import plato_sgl.evaluation.bench as bench
    from plato_sgl.core.grammar import plan_regex, split_opening

    calls = []

    class Endpoint:
        def flush_cache(self):
            calls.append("flush")

    monkeypatch.setattr(bench, "warm_up_workers", lambda endpoint, regexes, **kw: calls.append(regexes))
    variants = variants_for(["ar", "plato"], ablation=True, options={"max_nodes": 5})
    bench._flush_cache(Endpoint(), variants)
    assert calls[0] == "flush" and len(calls) == 2
    warmed = calls[1]
    assert split_opening(plan_regex(5, description_max=Options().description_max, ascii=True))[1] in warmed
    # one plan grammar (every variant has max_nodes 5), then a prose and a code grammar for each
    # sentence count the defaults give a node of a plan of up to 5 parts (4, 3 and 2)
    assert len(warmed) == len(set(warmed)) == 1 + 2 * 3


def test_a_torn_last_line_is_skipped_and_cut_before_appending(tmp_path):
    save(tmp_path, "ar", QUESTIONS[0], result("ar", 10, 1.0))
    path = tmp_path / "ar.jsonl"
    path.write_text(path.read_text() + '{"question_id": "2", "categ')
    assert list(load_rows(tmp_path)["ar"]) == ["1"]
    drop_torn_tail(path)
    assert path.read_text().endswith("}\n") and len(path.read_text().splitlines()) == 1


def test_ablation_variants_and_duplicate_methods():
    names = [v.name for v in variants_for(["ar", "plato"], ablation=True, options={"max_nodes": 5})]
    assert names == [
        "ar",
        "plato",
        "plato-plan-first",
        "plato-deps-context",
        "plato-no-size",
        "plato-long-topics",
        "plato-free-nodes",
        "plato-3-sentences",
        "plato-cap-2",
    ]
    plan_first = variants_for(["plato"], ablation=True, options={"max_nodes": 5})[1]
    assert plan_first == Variant("plato-plan-first", "plato", {"max_nodes": 5, "pipeline": False})
    with pytest.raises(ValueError, match="twice"):
        variants_for(["ar", "ar"])


def test_a_variant_named_in_methods_brings_its_own_options():
    ar, penalised, capped, cap_2 = variants_for(
        ["ar", "ar+frequency_penalty=0.5+max_tokens=512", "plato+pipeline=false+context=deps", "plato-cap-2"],
        options={"max_nodes": 5},
    )
    assert ar == Variant("ar", "ar", {"max_nodes": 5})
    assert penalised == Variant(
        "ar+frequency_penalty=0.5+max_tokens=512", "ar", {"max_nodes": 5, "frequency_penalty": 0.5, "max_tokens": 512}
    )
    assert capped.method == "plato" and capped.options == {"max_nodes": 5, "pipeline": False, "context": "deps"}
    assert cap_2 == Variant("plato-cap-2", "plato", {"max_nodes": 5, "streaming_cap": 2})  # the ablation's, by name
    with pytest.raises(ValueError, match="'max_tokens' is not name=value"):
        variants_for(["ar+max_tokens"])
    with pytest.raises(ValueError, match="unknown option.*frequency_penalt"):  # checked before any server starts
        variants_for(["ar+frequency_penalt=0.5"])
    with pytest.raises(ValueError, match="option max_tokens must be a positive integer"):
        variants_for(["ar+max_tokens=many"])


def test_datasets_builtin_files_and_filters(tmp_path):
    vicuna = load_questions("vicuna80")
    assert len(vicuna) == 80 and vicuna[0].category == "generic" and vicuna[0].id == "1"
    assert [q.id for q in load_questions("vicuna80", category="math")] == ["68", "69", "70"]
    assert len(load_questions("vicuna80", first=5)) == 5
    custom = tmp_path / "mine.csv"
    custom.write_text("prompt,topic\nWhy is the sky blue?,science\nName a prime.,math\n")
    questions = load_questions(custom, question_field="prompt", category_field="topic")
    assert [(q.text, q.category) for q in questions] == [("Why is the sky blue?", "science"), ("Name a prime.", "math")]
    gsm = tmp_path / "gsm.jsonl"
    gsm.write_text(json.dumps({"question": "1+1?", "answer": "1+1=2\n#### 2"}) + "\n")
    assert load_questions(gsm)[0].reference.endswith("#### 2")
    with pytest.raises(ValueError, match="no field 'prompt'"):
        load_questions(gsm, question_field="prompt")
    with pytest.raises(ValueError, match="not a built-in name"):
        load_questions("no-such-set")


def test_report_tables_and_plots(tmp_path):
    for q in QUESTIONS:
        save(tmp_path, "ar", q, result("ar", 100, 4.0))
        save(tmp_path, "plato", q, result("plato", 100, 2.0))
        save(tmp_path, "plato-plan-first", q, result("plato-plan-first", 100, 2.5))
        deps_context = result("plato-deps-context", 100, 2.0)
        flat = q.id == "4"  # a plan without dependencies: the dependency-only context has nothing to add
        deps_context.nodes[1].prompt_tokens, deps_context.nodes[1].deps = (0, ()) if flat else (40, (1,))
        save(tmp_path, "plato-deps-context", q, deps_context)
    for q in QUESTIONS[1:]:
        extra = result("plato", 100, 2.0)
        extra.nodes[1].prompt_tokens = 60
        save(tmp_path, "plato", q, extra)
    save(tmp_path, "plato", QUESTIONS[0], result("plato", 100, 2.0, error="timed out"))
    environment = {"model": "/cache/tiny", "url": "http://a", "device": "cpu", "command": "bench", "started": "t0"}
    (tmp_path / "environment.jsonl").write_text(
        "".join(
            json.dumps({**environment, **later}) + "\n"
            for later in ({}, {"model": "tiny", "url": "http://b", "command": "bench --resume"}, {"model": "tiny"})
        )
    )
    report = write_report(tmp_path).read_text()
    assert "| plato | 3 (1 failed) | 50.00 | 2.00x |" in report  # speed-up on the 3 questions both answered
    # what the user waits for comes first: latency, its speed-up over AR, answer length, plans
    assert report.index("## What the user waits for") < report.index("## Throughput and the paper's efficiency metrics")
    assert "| plato | 3 | 2.0 s | 2.0 s | 2.0 s | 2.00x | 0.50 | 3 of 3 (100%) |" in report
    assert "| plato-plan-first | 4 | 2.5 s | 2.5 s | 2.5 s | 1.60x | 0.62 | 4 of 4 (100%) |" in report
    assert "| ar | 100 | 100 | 0 | - | - | 0 of 4 (0%) | - |" in report
    assert "| plato | 3 | 2: 3 | 0 of 6 (0%) | - | 1.2 s | 60% |" in report
    assert "| generic | 2.00x | 2.00x | 1.60x |" in report and "| math | 2.00x | 2.00x | 1.60x |" in report
    assert "| pipelining: latency (s) | 3 | 2.5 | 2.0 | 20% |" in report
    assert "| global context: extra prefill (tokens) | 3 | 26.7 | 60.0 | -125% |" in report
    assert "| global context, plans with dependencies | 2 | 40.0 | 60.0 | -50% |" in report
    assert "- model: `/cache/tiny` / `tiny` (differs between invocations)" in report
    assert "- url: `http://a`\n" in report and "- command: `bench`\n" in report and "- device: `cpu`\n" in report
    for png in ("speedup_by_category.png", "timeline.png", "dag.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


def test_the_example_heading_names_a_category_only_where_there_is_one(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "plot_timeline", lambda result, path, ar_done=None, baseline=None: None)
    monkeypatch.setattr(plots, "plot_dag", lambda result, path: None)
    save(tmp_path, "plato", QUESTIONS[0], result("plato", 100, 2.0))
    assert "## One question up close: 1 (generic)\n" in write_report(tmp_path).read_text()
    gsm8k = tmp_path / "gsm8k"
    gsm8k.mkdir()
    save(gsm8k, "plato", Question(id="7", text="How many?", category=None), result("plato", 100, 2.0))
    assert "## One question up close: 7\n" in write_report(gsm8k).read_text()


def test_the_timeline_marks_when_ar_answered_the_same_question(tmp_path, monkeypatch):
    marks = []
    monkeypatch.setattr(plots, "plot_timeline", lambda result, path, ar_done=None, baseline=None: marks.append(ar_done))
    monkeypatch.setattr(plots, "plot_dag", lambda result, path: None)
    save(tmp_path, "plato", QUESTIONS[0], result("plato", 100, 2.0))
    write_report(tmp_path)
    save(tmp_path, "ar", QUESTIONS[0], result("ar", 100, 4.0))
    write_report(tmp_path)
    assert marks == [None, 4.0]


def test_per_category_keeps_the_first_questions_of_every_category():
    subset = load_questions("vicuna80", per_category=2)
    categories = [q.category for q in load_questions("vicuna80")]
    assert len(subset) == 2 * len(set(categories))
    assert [q.id for q in subset if q.category == "math"] == ["68", "69"]
    with pytest.raises(ValueError, match="per_category"):
        load_questions("vicuna80", per_category=0)


def test_the_category_table_leads_with_latency_and_keeps_throughput_after_it(tmp_path):
    # a verbose method: three times AR's tokens in half its time, so throughput says 6x and latency 2x
    for q in QUESTIONS:
        save(tmp_path, "ar", q, result("ar", 100, 4.0))
        save(tmp_path, "sot", q, result("sot", 300, 2.0 if q.category == "generic" else 8.0))
    report = write_report(tmp_path).read_text()
    per_category = report[report.index("## Speed-up per category") :]
    latency, throughput = per_category.split("Throughput speed-up")
    assert "| generic | 2.00x |" in latency and "| math | 0.50x |" in latency
    assert "| generic | 6.00x |" in throughput and "| math | 1.50x |" in throughput


def test_without_the_plotting_extra_the_report_is_tables_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "plots_available", lambda: False)
    for q in QUESTIONS:
        save(tmp_path, "ar", q, result("ar", 100, 4.0))
        save(tmp_path, "plato", q, result("plato", 100, 2.0))
    text = write_report(tmp_path).read_text()
    assert plots.NO_PLOTS_NOTE in text and "| plato | 4 | 2.0 s |" in text
    assert ".png" not in text and not list(tmp_path.glob("*.png"))


def test_the_report_states_each_target_as_met_or_missed(tmp_path):
    for q in QUESTIONS:
        save(tmp_path, "ar", q, result("ar", 100, 4.0))
        save(tmp_path, "plato", q, result("plato", 100, 2.0))  # 2x sooner, the same length
        save(tmp_path, "auto", q, result("ar", 100, 3.0 if q.category == "generic" else 5.0))
    report = write_report(tmp_path).read_text()
    assert report.index("## Targets") < report.index("## What the user waits for")
    assert "| Plato latency speed-up over ar (total time) | >= 1.3x | 2.00x | met |" in report
    assert (
        "| auto latency speed-up over ar, worst category (math) | >= 1.0x in every category | 0.80x | missed |"
        in report
    )
    assert "| questions Plato answers sooner than ar | >= 60% | 100% | met |" in report
    assert "| auto latency speed-up over ar, whole set | >= 1.0x | 1.00x | met |" in report
    assert "| Plato uncached prompt tokens beyond ar's, per node (mean) | <= 20 | 0.0 | met |" in report
    assert "| Plato decoded tokens / ar decoded tokens (plan and answer, median) | 0.8 to 1.2 | 1.00 | met |" in report
    assert "| truncated node requests | <= 5% | 0.0% | met |" in report


def test_the_report_compares_with_the_baseline_it_is_given(tmp_path):
    # an issue fixed AR's sampling while the defaults moved on: both plain answers ran, interleaved
    for q in QUESTIONS:
        save(tmp_path, "ar", q, result("ar", 100, 2.5))
        save(tmp_path, "ar+frequency_penalty=0", q, result("ar", 200, 4.0))
        save(tmp_path, "plato", q, result("plato", 100, 2.0))
        save(tmp_path, "auto", q, result("ar", 100, 3.0 if q.category == "generic" else 5.0))
    default = write_report(tmp_path).read_text()
    assert "| Plato latency speed-up over ar (total time) | >= 1.3x | 1.25x | missed |" in default
    report = write_report(tmp_path, baseline="ar+frequency_penalty=0").read_text()
    assert "| Plato latency speed-up over ar+frequency_penalty=0 (total time) | >= 1.3x | 2.00x | met |" in report
    assert (
        "| auto latency speed-up over ar+frequency_penalty=0, worst category (math) | >= 1.0x in every category | 0.80x | missed |"
        in report
    )
    assert (
        "| Plato decoded tokens / ar+frequency_penalty=0 decoded tokens (plan and answer, median) | 0.8 to 1.2 | 0.50 | missed |"
        in report
    )
    # every table compares with it, and the default AR is one more method
    assert "| ar | 4 | 2.5 s | 2.5 s | 2.5 s | 1.60x | 0.62 | 4 of 4 (100%) |" in report
    assert (
        "latency speed-up vs ar+frequency_penalty=0" in report
        and "Latency speed-up (total ar+frequency_penalty=0 time" in report
    )


def test_a_report_keeps_the_baseline_it_was_last_asked_for(tmp_path):
    from plato_sgl.cli import main

    for q in QUESTIONS:
        save(tmp_path, "ar", q, result("ar", 100, 2.5))
        save(tmp_path, "ar+frequency_penalty=0", q, result("ar", 200, 4.0))
        save(tmp_path, "plato", q, result("plato", 100, 2.0))
    assert "- baseline: `ar`" in write_report(tmp_path).read_text()
    assert main(["report", str(tmp_path), "--baseline", "ar+frequency_penalty=0"]) == 0
    # what bench --resume and judge do afterwards: a report without a baseline keeps the folder's
    again = write_report(tmp_path).read_text()
    assert "- baseline: `ar+frequency_penalty=0`" in again
    assert "| Plato latency speed-up over ar+frequency_penalty=0 (total time) | >= 1.3x | 2.00x | met |" in again
    with pytest.raises(ValueError, match="baseline 'sot' is not a method"):
        write_report(tmp_path, baseline="sot")  # refused, so not remembered
    assert "- baseline: `ar+frequency_penalty=0`" in write_report(tmp_path).read_text()
    assert main(["report", str(tmp_path), "--baseline", "ar"]) == 0
    assert "- baseline: `ar`" in write_report(tmp_path).read_text()


def test_a_baseline_that_is_not_a_method_of_the_run_is_named_with_the_methods(tmp_path, capsys):
    from plato_sgl.cli import main

    save(tmp_path, "ar", QUESTIONS[0], result("ar", 100, 4.0))
    save(tmp_path, "plato", QUESTIONS[0], result("plato", 100, 2.0))
    with pytest.raises(
        ValueError, match=r"baseline 'ar\+frequency_penalty=0' is not a method of .*; its methods: ar, plato"
    ):
        write_report(tmp_path, baseline="ar+frequency_penalty=0")
    assert main(["report", str(tmp_path), "--baseline", "sot"]) != 0
    assert "baseline 'sot' is not a method" in capsys.readouterr().err


def test_wizardlm_is_built_in_with_its_skills_as_categories_and_a_fixed_sample():
    from plato_sgl.evaluation.datasets import role

    questions = load_questions("wizardlm")
    assert len(questions) == 218 and len({q.category for q in questions}) == 29
    assert questions[0].id == "1" and questions[0].category == "Math"
    sample = load_questions("wizardlm", per_category=3)  # the held-out report set for speed
    assert len(sample) == 84 and sample == load_questions("wizardlm", per_category=3)
    assert "held out" in role("wizardlm") and "tuning" in role("vicuna80") and "your own" in role("mine.jsonl")


def test_the_report_leads_with_latency_uncached_prompt_tokens_and_decoded_tokens(tmp_path):
    for q in QUESTIONS:
        ar = result("ar", 100, 4.0)
        ar.calls[0].prompt_tokens, ar.calls[0].cached_tokens, ar.calls[0].first_token_at = 60, 20, 0.5
        save(tmp_path, "ar", q, ar)
        plato = result("plato", 100, 2.0)
        plato.calls = [Call(kind="plan", prompt_tokens=300, cached_tokens=250, completion_tokens=30)]
        plato.nodes[0].prompt_tokens, plato.nodes[0].cached_tokens = 100, 40
        save(tmp_path, "plato", q, plato)
    (tmp_path / "environment.jsonl").write_text(
        json.dumps({"dataset": "wizardlm", "question_set": "held out: nothing is tuned on it", "started": "t0"}) + "\n"
    )
    report = write_report(tmp_path).read_text()
    assert report.index("## Against a plain answer") < report.index("## Targets")
    # latency, first answer token, uncached prompt tokens, plan and answer tokens, speed-up, sooner
    assert "| ar | 4 | 4.0 s | 0.5 s | 40 | 0 | 100 | - | - |" in report
    assert "| plato | 4 | 2.0 s | 0.7 s | 110 | 30 | 100 | 2.00x | 4 of 4 (100%) |" in report
    assert "- question_set: `held out: nothing is tuned on it`" in report


def test_the_prompt_target_counts_the_uncached_tokens_plato_adds_per_node(tmp_path):
    for q in QUESTIONS:
        plain = result("ar", 100, 4.0)
        plain.calls[0].prompt_tokens = 60
        plato = result("plato", 100, 2.0)
        plato.calls.append(Call(kind="plan", prompt_tokens=400, cached_tokens=100))  # 300 uncached, 2 nodes
        save(tmp_path, "ar", q, plain)
        save(tmp_path, "plato", q, plato)
    report = write_report(tmp_path).read_text()
    assert "| Plato uncached prompt tokens beyond ar's, per node (mean) | <= 20 | 120.0 | missed |" in report


def test_the_report_states_the_engine_ceiling_at_plato_s_parallel_degree(tmp_path):
    for q in QUESTIONS:
        save(tmp_path, "ar", q, result("ar", 100, 4.0))
        plato = result("plato", 100, 2.0)
        plato.parallel_degree = 3.0
        save(tmp_path, "plato", q, plato)
    assert "Engine ceiling" not in write_report(tmp_path).read_text()
    record = {"prefill": 350.0, "decode": {"1": 10.0, "2": 18.0, "4": 30.0}, "settings": {}}
    (tmp_path / "engine.jsonl").write_text(json.dumps(record) + "\n")
    report = write_report(tmp_path).read_text()
    assert (
        "Plato's mean parallel degree is 3.00; this server decodes that many sequences 2.40x as fast as one" in report
    )
    assert "1.80x at 2, 3.00x at 4" in report
    assert set(load_rows(tmp_path)) == {"ar", "plato"}  # the engine file is no run of its own
