"""``plato-sgl ask`` against the real tiny server: what a person sees, and how bad input is refused."""

from __future__ import annotations

import json
import re

import pytest

from plato_sgl.cli import main

SMALL = ["--max-nodes", "3", "--plan-max-tokens", "48", "--node-max-tokens", "6", "--max-tokens", "8"]


def ask(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["ask", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.server
def test_ask_verbose_prints_the_answer_the_plan_the_nodes_and_the_timings(tiny_server, capsys):
    code, out, err = ask(capsys, "How do bees make honey?", "--url", tiny_server.url, "-v", *SMALL)
    assert code == 0, err
    answer, details = out.split("\nPlan:\n", 1)
    assert answer.strip()
    assert "node deps" in details and "description" in details  # the per-node table's header
    assert "plan: first token" in details and "parallel degree" in details
    assert "total:" in details and "generated tokens" in details


@pytest.mark.server
@pytest.mark.parametrize("method", ["ar", "sot"])
def test_ask_json_gives_the_whole_result_of_the_chosen_method(tiny_server, capsys, method):
    code, out, err = ask(capsys, "Name a colour.", "--url", tiny_server.url, "--method", method, "--json", *SMALL)
    assert code == 0, err
    data = json.loads(out)
    assert data["method"] == method and data["error"] is None
    assert data["completion_tokens"] > 0 and data["answer"]


@pytest.mark.server
def test_ask_shows_the_plan_and_the_progress_on_stderr_and_the_answer_on_stdout(tiny_server, capsys):
    code, out, err = ask(capsys, "Name three colours.", "--url", tiny_server.url, "--method", "sot", *SMALL)
    assert code == 0, err
    lines = err.splitlines()
    plan = [line for line in lines[:3] if line.startswith("plan  ")]
    assert [line.split(".")[0] for line in plan] == ["plan  1", "plan  2", "plan  3"]  # SoT: 3 points at --max-nodes 3
    assert all(line.endswith(" []") for line in plan)  # SoT's points depend on nothing
    assert re.fullmatch(r"plan  complete at \d+\.\d s", lines[3]), lines  # the skeleton ended
    assert re.fullmatch(r"      dispatched 1,2,3 at \d+\.\d s", lines[4]), lines
    done = sorted(
        int(m[1])
        for m in (re.fullmatch(r"      done (\d+) \(\d+ tokens\) at \d+\.\d s", line) for line in lines[5:8])
        if m
    )
    assert done == [1, 2, 3], lines
    assert re.fullmatch(r"answered in \d+\.\d s", lines[-1]) and len(lines) == 9, lines
    assert out.strip() and "plan  " not in out and "answered in" not in out  # stdout: the answer alone
    code, quiet_out, quiet_err = ask(capsys, "Name a colour.", "--url", tiny_server.url, "--method", "ar", "-q", *SMALL)
    assert code == 0 and quiet_out and quiet_err == ""  # the answer (random model: maybe only blanks) and nothing else
    code, _, ar_err = ask(capsys, "Name a colour.", "--url", tiny_server.url, "--method", "ar", *SMALL)
    assert code == 0 and re.fullmatch(r"answered in \d+\.\d s\n", ar_err)  # one request: no plan to show


@pytest.mark.server
def test_ask_shows_plato_s_plan_lines_as_they_stream(tiny_server, capsys):
    code, out, err = ask(capsys, "How do bees make honey?", "--url", tiny_server.url, *SMALL)
    assert code == 0, err
    lines = err.splitlines()
    assert re.fullmatch(r"plan  1\. .+ \[\]", lines[0]), lines  # the first line can depend on nothing
    assert any(re.fullmatch(r"      dispatched [\d,]+ at \d+\.\d s", line) for line in lines), lines
    assert re.fullmatch(r"answered in \d+\.\d s", lines[-1]), lines


@pytest.mark.server
def test_ask_compare_answers_plainly_after_it_and_prints_both_times(tiny_server, capsys):
    code, out, err = ask(capsys, "How do bees make honey?", "--url", tiny_server.url, "--compare", *SMALL)
    assert code == 0, err
    answer, plain = out.split("\n--- the same question answered plainly (ar), after it, on the same server ---\n")
    assert answer.strip()
    lines = err.splitlines()
    assert re.fullmatch(
        r"plato: \d+\.\d s \(first answer text at .* tokens decoded, plan's first token at .*\)", lines[-3]
    )
    assert re.fullmatch(r"plain answer \(ar\), asked after it: \d+\.\d s \(.* tokens decoded\)", lines[-2])
    assert re.fullmatch(r"plato was (sooner|not sooner) than a plain answer: \d+\.\d\dx its speed", lines[-1])
    code, out, err = ask(capsys, "Name a colour.", "--url", tiny_server.url, "--compare", "--json", *SMALL)
    data = json.loads(out)
    assert code == 0 and data["answer"]["method"] == "plato" and data["plain"]["method"] == "ar"
