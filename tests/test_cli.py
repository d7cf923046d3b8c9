"""``plato-sgl ask`` against the real tiny server: what a person sees, and how bad input is refused."""

from __future__ import annotations

import json
import re

import pytest

from plato_sgl.cli import main
from plato_sgl.serving import free_port

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


@pytest.mark.parametrize(
    "args, message",
    [
        (["   "], "the question is empty"),
        (["Why?", "--method", "beam"], "unknown method 'beam'"),
        (["Why?", "--max-nodes", "0"], "max_nodes must be a positive integer"),
    ],
)
def test_ask_refuses_bad_input_before_connecting(capsys, args, message):
    # The URL has no server behind it: input is checked first, so the error is about the input.
    code, out, err = ask(capsys, *args, "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 1 and not out
    assert err.startswith("plato-sgl: error: ") and message in err


def test_ask_names_an_unreachable_server(capsys):
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = ask(capsys, "Why?", "--url", url)
    assert code == 1 and not out
    assert f"cannot reach an SGLang server at {url}" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--methods", "ar,beam"], "unknown method 'beam'"),
        (["--methods", "plato", "--node-max-tokens", "-1"], "node_max_tokens must be a positive integer"),
    ],
)
def test_bench_refuses_bad_methods_and_options_before_connecting(capsys, tmp_path, args, message):
    code = main(["bench", "--out", str(tmp_path / "run"), *args, "--url", f"http://127.0.0.1:{free_port()}"])
    _, err = capsys.readouterr()
    assert code == 1 and message in err
    assert not (tmp_path / "run").exists()


def test_bench_refuses_a_max_inflight_below_one(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(
            ["bench", "--out", str(tmp_path / "run"), "--max-inflight", "0", "--url", f"http://127.0.0.1:{free_port()}"]
        )
    assert exit_.value.code == 2 and "--max-inflight: expected a number of at least 1, got 0" in capsys.readouterr().err


def test_version_names_the_installed_package(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"plato-sgl {version('plato-sgl')}"


def test_models_lists_every_registry_entry_with_its_size_and_whether_it_is_built(capsys, tmp_path, monkeypatch):
    from plato_sgl import models

    monkeypatch.setenv("PLATO_SGL_CACHE", str(tmp_path))  # an empty cache: nothing built
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["model", "parameters", "built"]
    listed = {line.split()[0]: line.split()[1:3] for line in lines[1 : len(models.MODELS) + 1]}
    assert listed == {name: [spec.parameters, "no"] for name, spec in models.MODELS.items()}


def test_serve_passes_server_arguments_through(monkeypatch):
    import plato_sgl.serving as serving

    seen = {}
    monkeypatch.setattr(serving, "serve_forever", lambda model, **kwargs: seen.update(model=model, **kwargs))
    assert (
        main(
            [
                "serve",
                "--model",
                "tiny-random",
                "--host",
                "0.0.0.0",
                "--threads",
                "2",
                "--max-total-tokens",
                "4096",
                "--",
                "--schedule-policy",
                "lpm",
            ]
        )
        == 0
    )
    assert seen == {
        "model": "tiny-random",
        "port": None,
        "host": "0.0.0.0",
        "threads": 2,
        "max_total_tokens": 4096,
        "workers": 1,
        "policy": "manual",
        "extra_args": ["--schedule-policy", "lpm"],
    }
    assert main(["serve", "--model", "tiny-random", "--workers", "2", "--policy", "cache_aware"]) == 0
    assert (seen["workers"], seen["policy"]) == (2, "cache_aware")


def test_only_serve_and_engine_take_arguments_after_a_double_dash(capsys):
    with pytest.raises(SystemExit):
        main(["ask", "Why?", "--", "--schedule-policy", "lpm"])
    assert "only `serve` and `engine` take them" in capsys.readouterr().err
