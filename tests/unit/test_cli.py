"""``plato-sgl`` without a model: bad input refused before connecting, the version, the model list, argument pass-through."""

from __future__ import annotations

import pytest

from plato_sgl.cli import main
from plato_sgl.serving.local import free_port


def ask(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["ask", *args])
    out, err = capsys.readouterr()
    return code, out, err


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
    from plato_sgl.serving import models

    monkeypatch.setenv("PLATO_SGL_CACHE", str(tmp_path))  # an empty cache: nothing built
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["model", "parameters", "built"]
    listed = {line.split()[0]: line.split()[1:3] for line in lines[1 : len(models.MODELS) + 1]}
    assert listed == {name: [spec.parameters, "no"] for name, spec in models.MODELS.items()}


def test_serve_passes_server_arguments_through(monkeypatch):
    import plato_sgl.cli as cli

    seen = {}
    monkeypatch.setattr(cli, "serve_forever", lambda model, **kwargs: seen.update(model=model, **kwargs))
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


def test_the_comparison_says_which_was_sooner_and_by_how_much():
    from plato_sgl.cli import format_comparison
    from plato_sgl.core.result import Call, Result

    plato = Result("q", "plato", answer="a", wall_time=20.0, plan_first_token_at=0.8)
    plain = Result("q", "ar", answer="b", wall_time=30.0)
    plain.calls.append(Call(kind="answer", first_token_at=0.4, completion_tokens=300))
    lines = format_comparison(plato, plain).splitlines()
    assert lines[0] == "plato: 20.0 s (first answer text at - s, 0 tokens decoded, plan's first token at 0.80 s)"
    assert lines[1] == "plain answer (ar), asked after it: 30.0 s (first answer text at 0.40 s, 300 tokens decoded)"
    assert lines[2] == "plato was sooner than a plain answer: 1.50x its speed"
    assert "was not sooner" in format_comparison(plain, plato)
